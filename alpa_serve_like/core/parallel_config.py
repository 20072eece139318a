"""ParallelConfig: how one model replica is split over devices."""
from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_RE = re.compile(r"^dp(\d+)_op(\d+)_pp(\d+)$")


@dataclass(frozen=True, order=True)
class ParallelConfig:
    """Data-parallel degree ``dp``, intra-op (tensor) degree ``op`` and pipeline stages ``pp``.

    A group of the placement runs one pipeline of ``pp`` stages, each stage sharded over ``op``
    devices, so it occupies ``op * pp`` devices; ``dp`` counts whole copies of that pipeline.
    """

    dp: int = 1
    op: int = 1
    pp: int = 1

    def __post_init__(self):
        for name in ("dp", "op", "pp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ParallelConfig.{name} must be a positive int, got {value!r}")

    @property
    def num_devices(self) -> int:
        return self.dp * self.op * self.pp

    @property
    def key(self) -> str:
        """Stable text key used in files: ``dp1_op2_pp4``."""
        return f"dp{self.dp}_op{self.op}_pp{self.pp}"

    @classmethod
    def from_key(cls, key: str) -> "ParallelConfig":
        match = _KEY_RE.match(key)
        if not match:
            raise ValueError(f"parallel config key {key!r} is not of the form 'dp1_op2_pp4'")
        return cls(*(int(g) for g in match.groups()))

    def __str__(self) -> str:
        return f"(dp={self.dp}, op={self.op}, pp={self.pp})"
