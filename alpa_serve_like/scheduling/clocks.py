"""GroupClocks: the predicted state of one group's pipeline, and the stage-timing arithmetic.

Each pipeline stage is a FIFO resource; ``free_s[s]`` is when stage ``s`` finishes all work
committed so far. The last committed batch (the *tail*) may still grow while it waits for stage 0,
so the clocks *before* it (``base_s``) are kept to re-time it. ``stage_times`` is the one place
where a batch's timeline is computed; the numba kernel repeats exactly this arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


def stage_times(start0_s: float, clocks_s, lat_s, per_stage_overhead_s: float) -> tuple[list[float], list[float]]:
    """Start and finish of each stage of a batch that may start stage 0 at ``start0_s``.

    ``clocks_s[s]`` is when stage s becomes free for it, ``lat_s[s]`` its latency there.
    finish_s = start_s + lat_s + overhead;  start_{s+1} = max(finish_s, clocks_s[s+1]).
    """
    starts, finishes = [], []
    start = start0_s
    for s in range(len(lat_s)):
        if s > 0:
            start = max(finish, clocks_s[s])
        finish = start + lat_s[s] + per_stage_overhead_s
        starts.append(start)
        finishes.append(finish)
    return starts, finishes


@dataclass
class GroupClocks:
    """Predicted stage clocks of one group plus its open (tail) batch."""

    num_stages: int
    free_s: list[float] = field(default_factory=list)
    base_s: list[float] = field(default_factory=list)
    """Clocks before the tail batch was committed."""
    tail_replica: int = -1
    tail_batch: int = -1
    tail_size: int = 0
    tail_start_s: float = math.inf
    """When the tail batch starts stage 0."""
    tail_min_deadline_s: float = math.inf
    tail_sealed: bool = False
    """Set by the runtime once the tail batch was actually dispatched: it can no longer grow."""
    outstanding: int = 0
    """Admitted requests whose batch has not completed."""
    busy_s: list[float] = field(default_factory=list)
    """Committed busy time of each stage (latency + per-stage overhead of every batch)."""

    @classmethod
    def fresh(cls, num_stages: int, start_s: float = -math.inf) -> "GroupClocks":
        return cls(
            num_stages=num_stages,
            free_s=[start_s] * num_stages,
            base_s=[start_s] * num_stages,
            busy_s=[0.0] * num_stages,
        )

    def can_join(self, replica: int, earliest_start_s: float, max_batch_size: int) -> bool:
        """Whether a request of ``replica`` that could start at ``earliest_start_s`` may join the tail:
        same model, room left, not sealed, and the tail starts strictly later (so its start time is
        unchanged by the newcomer, and a batch that already started or completed is never grown)."""
        return (
            self.tail_replica == replica
            and self.tail_size < max_batch_size
            and not self.tail_sealed
            and earliest_start_s < self.tail_start_s
        )
