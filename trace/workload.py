"""Workload: a request stream as arrays (arrival, model id, SLO), the input of simulator and replay.

One array per field keeps the simulator's hot path free of Python objects. ``model_names[i]`` is
the name of model id ``i``. Every request carries its own SLO (seconds from arrival to finish);
the absolute deadline is ``arrival_s + slo_s``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class WorkloadError(ValueError):
    """A workload's arrays are inconsistent, or an operation on it is impossible."""


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests sorted by arrival time.

    ``size`` is an optional per-request batch/token size (e.g. tokens of an LLM request); 1 when
    unknown. ``meta`` records how the workload was made (generator, seed, trace file, window).
    """

    arrival_s: np.ndarray  # float64, sorted ascending
    model_id: np.ndarray  # int32, index into model_names
    slo_s: np.ndarray  # float64, per-request SLO (deadline - arrival)
    model_names: tuple[str, ...]
    size: np.ndarray | None = None  # int32, optional
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.arrival_s)
        object.__setattr__(self, "arrival_s", np.ascontiguousarray(self.arrival_s, dtype=np.float64))
        object.__setattr__(self, "model_id", np.ascontiguousarray(self.model_id, dtype=np.int32))
        object.__setattr__(self, "slo_s", np.ascontiguousarray(self.slo_s, dtype=np.float64))
        object.__setattr__(self, "model_names", tuple(self.model_names))
        if self.size is not None:
            object.__setattr__(self, "size", np.ascontiguousarray(self.size, dtype=np.int32))
        for name in ("model_id", "slo_s") + (("size",) if self.size is not None else ()):
            if len(getattr(self, name)) != n:
                raise WorkloadError(f"workload: {name} has {len(getattr(self, name))} entries, arrival_s has {n}")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise WorkloadError("workload: arrival_s must be sorted ascending")
        if n and (self.model_id.min() < 0 or self.model_id.max() >= len(self.model_names)):
            raise WorkloadError(
                f"workload: model ids must be in [0, {len(self.model_names)}), "
                f"got [{self.model_id.min()}, {self.model_id.max()}]"
            )
        if n and not np.all(np.isfinite(self.arrival_s)):
            raise WorkloadError("workload: arrival_s has NaN or infinite values")
        if n and np.any(~(self.slo_s > 0)):
            raise WorkloadError("workload: every slo_s must be > 0")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def deadline_s(self) -> np.ndarray:
        return self.arrival_s + self.slo_s

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    def sizes(self) -> np.ndarray:
        """Per-request sizes, ones when the workload has none."""
        return self.size if self.size is not None else np.ones(len(self), dtype=np.int32)
