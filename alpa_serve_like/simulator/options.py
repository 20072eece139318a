"""SimOptions: the knobs of one simulation: the shared ``SchedulingOptions`` plus metrics and engine."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alpa_serve_like.scheduling import SchedulingOptions

Backend = Literal["kernel", "reference"]


@dataclass(frozen=True)
class SimOptions:
    """Options of ``simulate`` and ``PlacementScorer``; defaults are AlpaServe's simulator settings.

    Routing, admission, batching and overheads are not repeated here: they live in ``scheduling``,
    the same value the runtime and the placement optimizer hold, so the three cannot drift apart.
    """

    scheduling: SchedulingOptions = SchedulingOptions()
    """Routing, admission, batching and overheads, exactly as the runtime's scheduler uses them."""
    warmup_s: float = 0.0
    """Requests arriving within this many seconds of the first arrival are simulated but left out
    of every metric (attainment, percentiles, throughput)."""
    backend: Backend = "kernel"
    """``kernel`` (numba arrays; the fast path) or ``reference`` (event heap over the shared
    ``scheduling.Scheduler``; readable, slow)."""
    queue_engine: bool = False
    """Run the stage-queue engine (``discipline_kernel``) even under fcfs: routing by fewest
    outstanding requests and drop-at-dispatch admission, as srpt/edf run. The baseline that
    separates a discipline's effect from those rules (other disciplines always use that engine)."""
    jit: bool = True
    """Compile the kernel with numba; False (or env ALPA_SERVE_LIKE_DISABLE_JIT=1) runs the same
    function as plain Python."""

    def __post_init__(self):
        if not isinstance(self.scheduling, SchedulingOptions):
            raise TypeError(f"SimOptions.scheduling must be a SchedulingOptions, got "
                            f"{type(self.scheduling).__name__} (wrap routing/batching fields in "
                            f"SchedulingOptions(...))")
        if not (self.warmup_s >= 0.0):
            raise ValueError(f"warmup_s must be >= 0 seconds, got {self.warmup_s!r}")
        if self.backend not in ("kernel", "reference"):
            raise ValueError(f"backend must be 'kernel' or 'reference', got {self.backend!r}")
