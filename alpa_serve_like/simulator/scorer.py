"""PlacementScorer: SLO attainment of many candidate placements on one fixed workload.

The placement optimizer calls ``score`` thousands of times, so everything that depends only on
the workload (request arrays, deadlines, per-model totals, the warm-up mask) is built once here,
and the per-(model, config) latency blocks are cached; per call only the placement's small dense
tables are assembled before the compiled kernel runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from alpa_serve_like.core.plan import Placement, PlacementSchedule
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.scheduling import StageLatencyCache
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.simulator.engine import request_times, run_segments
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.run import measured_mask


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Score of one placement (measured requests only, i.e. after warm-up)."""

    attainment: float
    """SLO-meeting requests / all requests (NaN if there are none)."""
    model_names: tuple[str, ...]
    per_model_served: np.ndarray
    """int64 per model id: requests that met their SLO."""
    per_model_total: np.ndarray
    """int64 per model id: requests."""

    @property
    def per_model_attainment(self) -> np.ndarray:
        """float64 per model id; NaN for models without requests."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.per_model_served / np.where(self.per_model_total > 0, self.per_model_total, np.nan)


class PlacementScorer:
    """``PlacementScorer(workload, profiles, options).score(placement) -> ScoreResult``."""

    def __init__(self, workload: Workload, profiles: Mapping[str, ModelProfile], options: SimOptions | None = None):
        self.options = options or SimOptions()
        self.model_names = workload.model_names
        self.arrival_s = workload.arrival_s
        self.model_id = workload.model_id
        self.deadline_s = workload.deadline_s
        self.measured = measured_mask(self.arrival_s, self.options.warmup_s)
        self._all_measured = bool(self.measured.all())
        self._measured_ids = self.model_id if self._all_measured else self.model_id[self.measured]
        self.per_model_total = np.bincount(self._measured_ids, minlength=len(self.model_names)).astype(np.int64)
        self.cache = StageLatencyCache(profiles, self.options.scheduling.max_batch_size)
        self.calls = 0

    def score(self, placement: Placement | PlacementSchedule) -> ScoreResult:
        self.calls += 1
        runs = run_segments(placement, self.arrival_s, self.model_id, self.deadline_s, self.model_names,
                            self.cache, self.options)
        good = self._good(runs)
        if not self._all_measured:
            good &= self.measured
        served = np.bincount(self.model_id[good], minlength=len(self.model_names)).astype(np.int64)
        total = int(self.per_model_total.sum())
        attainment = float(served.sum() / total) if total else float("nan")
        return ScoreResult(attainment, self.model_names, served, self.per_model_total.copy())

    def _good(self, runs) -> np.ndarray:
        admitted = np.concatenate([r.out.reason == 0 for r in runs]) if runs else np.zeros(0, bool)
        if self.options.scheduling.admission:
            # Admission and the batching rule guarantee every admitted request meets its deadline.
            return admitted
        _, finish = request_times(runs, len(self.arrival_s))
        return admitted & (finish <= self.deadline_s)
