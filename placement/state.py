"""FillState: a placement under construction (group configs, hosted models, running memory use).

The greedy fills, round-robin and local search edit this mutable twin of ``Placement`` and turn it
into the immutable value only to score it or to return it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.placement.memory import GroupUsage, MemoryModel


class FillState:
    """Groups in a fixed order; ``hosted[g]`` lists the models of group ``g`` in insertion order."""

    def __init__(self, configs: Sequence[ParallelConfig], memory: MemoryModel):
        self.configs = list(configs)
        self.memory = memory
        self.hosted: list[list[str]] = [[] for _ in self.configs]
        self.usage = [GroupUsage(c.pp) for c in self.configs]

    def copy(self) -> "FillState":
        out = FillState.__new__(FillState)
        out.configs = list(self.configs)
        out.memory = self.memory
        out.hosted = [list(h) for h in self.hosted]
        out.usage = [u.copy() for u in self.usage]
        return out

    def can_add(self, g: int, model: str) -> bool:
        if model in self.hosted[g]:
            return False
        mem = self.memory.stage_memory(model, self.configs[g])
        return mem is not None and self.usage[g].bytes_with(mem) <= self.memory.budget_bytes

    def add(self, g: int, model: str) -> None:
        mem = self.memory.stage_memory(model, self.configs[g])
        if mem is None:
            raise ValueError(f"model {model!r} has no profile for {self.configs[g].key}")
        self.hosted[g].append(model)
        self.usage[g].add(mem)

    def remove(self, g: int, model: str) -> None:
        self.hosted[g].remove(model)
        # Weights subtract exactly; the activation reserve is a maximum, so it is taken again over
        # the models left (cheaper than rebuilding the usage: the annealing removes thousands).
        usage = self.usage[g].copy()
        usage.weight_bytes -= self.memory.stage_memory(model, self.configs[g]).weight_bytes
        usage.act_bytes[:] = 0
        for m in self.hosted[g]:
            np.maximum(usage.act_bytes, self.memory.stage_memory(m, self.configs[g]).act_bytes, out=usage.act_bytes)
        self.usage[g] = usage

    def clear(self, g: int) -> None:
        self.hosted[g] = []
        self._recompute(g)

    def _recompute(self, g: int) -> None:
        usage = GroupUsage(self.configs[g].pp)
        for m in self.hosted[g]:
            usage.add(self.memory.stage_memory(m, self.configs[g]))
        self.usage[g] = usage

    def replicas(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.hosted:
            for m in h:
                out[m] = out.get(m, 0) + 1
        return out

    def num_replicas(self) -> int:
        return sum(len(h) for h in self.hosted)

    def to_placement(self, meta: dict | None = None) -> Placement:
        # Largest groups first: with power-of-two sizes, contiguous device blocks then never
        # straddle a node boundary partially.
        order = sorted(range(len(self.configs)), key=lambda g: -self.configs[g].op * self.configs[g].pp)
        groups = tuple(GroupPlacement(self.configs[g], tuple(self.hosted[g])) for g in order)
        return Placement(groups=groups, meta=dict(meta or {}))

    def key(self) -> tuple:
        """Hashable identity (configs and hosted sets) for caching scores."""
        return tuple((c.op, c.pp, tuple(sorted(h))) for c, h in zip(self.configs, self.hosted))
