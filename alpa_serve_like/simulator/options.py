"""SimOptions: every knob of one simulation (routing/admission/batching, overheads, metrics, engine)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from alpa_serve_like.scheduling import RoutingPolicy, SchedulingOptions

Backend = Literal["kernel", "reference"]


@dataclass(frozen=True)
class SimOptions:
    """Options of ``simulate`` and ``PlacementScorer``; defaults are AlpaServe's simulator settings."""

    routing: RoutingPolicy = "earliest_finish"
    """Routing policy name (``alpa_serve_like.scheduling.routing``)."""
    admission: bool = True
    """Reject at arrival requests predicted to miss their deadline (they count as SLO misses)."""
    max_batch_size: int = 1
    """Dynamic batching up to this many requests of one model per batch (1: off)."""
    dispatch_overhead_s: float = 0.0
    """Delay from arrival to the earliest start on stage 0."""
    per_stage_overhead_s: float = 0.0
    """Added to every stage's profiled latency."""
    batch_join_slack_s: float = 1e-9
    """Batching tie tolerance (see ``SchedulingOptions.batch_join_slack_s``)."""
    warmup_s: float = 0.0
    """Requests arriving within this many seconds of the first arrival are simulated but left out
    of every metric (attainment, percentiles, throughput)."""
    backend: Backend = "kernel"
    """``kernel`` (numba arrays; the fast path) or ``reference`` (event heap over the shared
    ``scheduling.Scheduler``; readable, slow)."""
    jit: bool = True
    """Compile the kernel with numba; False (or env ALPA_SERVE_LIKE_DISABLE_JIT=1) runs the same
    function as plain Python."""

    def __post_init__(self):
        self.scheduling  # validates the shared fields
        if not (self.warmup_s >= 0.0):
            raise ValueError(f"warmup_s must be >= 0 seconds, got {self.warmup_s!r}")
        if self.backend not in ("kernel", "reference"):
            raise ValueError(f"backend must be 'kernel' or 'reference', got {self.backend!r}")

    @property
    def scheduling(self) -> SchedulingOptions:
        """The routing/admission/batching part, as the runtime would use it."""
        names = {f.name for f in fields(SchedulingOptions)}
        return SchedulingOptions(**{n: getattr(self, n) for n in names if hasattr(self, n)})
