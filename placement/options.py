"""PlacementOptions: the knobs every placement policy reads (one value, every field documented)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator.options import SimOptions


@dataclass(frozen=True)
class PlacementOptions:
    """Settings shared by the placement policies; each policy reads only the fields it needs."""

    scheduling: SchedulingOptions = SchedulingOptions()
    """How the served placement will route, admit and batch: the scorer simulates exactly this,
    and activation memory for ``scheduling.max_batch_size`` is reserved on every group. Pass the
    server's own value so a placement is scored as it will run."""
    scorer_factory: Any = None
    """``(workload, profiles, sim_options) -> scorer`` with ``.score(placement)``; None: the
    simulator's ``PlacementScorer``. Injected by tests and by callers with their own evaluator."""
    max_op: int = 8
    """Largest intra-op degree a group may use (intra-op stays inside one node)."""
    max_pp: int = 16
    """Largest number of pipeline stages a group may use."""
    max_candidates: int = 0
    """Cap on group partitions mp-search fills completely (0: no cap). Larger is slower and better."""
    screen_keep: int = 4
    """mp-search: partitions kept after the cheap screening pass for the exact greedy fill."""
    time_budget_s: float = 10.0
    """Wall-clock budget of the search policies that can use more time to do better (mp-anneal)."""
    anneal_max_moves: int = 0
    """mp-anneal: stop after this many scored moves even if time is left (0: only the time budget).
    With a cap that is reached before the budget, the result depends only on the inputs and rng."""
    search_time_cap_s: float = 0.0
    """mp-anneal-budget: also stop once this many seconds have passed (0: no cap). A run the cap
    stops depends on the machine's speed; its meta says ``stopped_by: time cap``."""
    anneal_copies: int = 2
    """mp-anneal: spans of fresh traffic fitted to the training workload added to its objective
    (``objective.resampled_copies``; 0: the training sample alone)."""
    ilp_time_limit_s: float = 20.0
    """HiGHS time limit for mp-ilp / sr-ilp (the best solution found by then is used)."""
    oracle: bool = False
    """sr-replace: plan each window on that window's own traffic (peeks at the future)."""
    same_cluster_threshold: float = 0.38
    """mp-search-sep: models whose single-device latencies differ by less than this ratio share a cluster."""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    """Free-form notes carried into the placement's meta (never read by a policy)."""

    def __post_init__(self):
        if not isinstance(self.scheduling, SchedulingOptions):
            raise TypeError(f"PlacementOptions.scheduling must be a SchedulingOptions, got "
                            f"{type(self.scheduling).__name__}")
        for name in ("max_op", "max_pp", "screen_keep"):
            if getattr(self, name) < 1:
                raise ValueError(f"PlacementOptions.{name} must be >= 1, got {getattr(self, name)}")
        if self.search_time_cap_s < 0:
            raise ValueError(f"PlacementOptions.search_time_cap_s must be >= 0 (0: no cap), got {self.search_time_cap_s}")
        if self.time_budget_s <= 0 or self.ilp_time_limit_s <= 0:
            raise ValueError("PlacementOptions: time budgets must be > 0 seconds")

    @property
    def sim_options(self) -> SimOptions:
        """What the scorer simulates with: ``scheduling`` on the kernel backend, no warm-up."""
        return SimOptions(scheduling=self.scheduling)

    def with_(self, **changes) -> "PlacementOptions":
        return replace(self, **changes)
