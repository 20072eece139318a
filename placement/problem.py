"""PlacementProblem: what every policy derives from its inputs (memory model, rates, SLOs, scorer).

Built once per policy call. The scorer wraps the simulator's ``PlacementScorer`` (which converts
the training workload to arrays once) and reports, per placement, the overall SLO attainment and
the unserved request count of each model in ``models`` order: the greedy criterion of AlpaServe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.hardware import ClusterSpec
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.memory import MemoryModel, PlacementInfeasibleError
from alpa_serve_like.placement.options import PlacementOptions


@dataclass(frozen=True)
class Score:
    """A placement's simulated result on the training workload."""

    attainment: float
    unserved: np.ndarray  # int64, per model in the problem's ``models`` order
    total: np.ndarray  # int64, requests per model


class PlacementProblem:
    """Inputs of one placement decision plus cached derived tables."""

    def __init__(
        self,
        cluster: ClusterSpec,
        models: Sequence[str],
        profiles: Mapping[str, ModelProfile],
        workload: Workload,
        options: PlacementOptions,
    ):
        missing = [m for m in models if m not in profiles]
        if missing:
            raise PlacementInfeasibleError(
                f"no profile for model(s) {', '.join(map(repr, missing[:5]))}; every model to place "
                f"needs a profile (build replica profiles with placement.instantiate_models)"
            )
        if len(set(models)) != len(models):
            raise PlacementInfeasibleError("a model name is listed twice in the models to place")
        self.cluster = cluster
        self.models = list(models)
        self.index = {m: i for i, m in enumerate(self.models)}
        self.profiles = {m: profiles[m] for m in self.models}
        self.workload = workload
        self.options = options
        # Activation memory is reserved for the largest batch the simulator/runtime may run.
        self.memory = MemoryModel(self.profiles, cluster.memory_budget_bytes, options.scheduling.max_batch_size)
        self.rates, self.slo_s = _rates_and_slos(workload, self.models)
        self.evaluations = 0
        self.simulated_requests = 0
        self._scorer = None
        self._bottleneck: dict[tuple[str, ParallelConfig], float] = {}
        self._useful: dict[tuple[str, ParallelConfig], bool] = {}

    # ---- analytic tables -----------------------------------------------------------------------
    def bottleneck_s(self, model: str, config: ParallelConfig) -> float:
        """Slowest stage at batch 1: the pipeline admits one request of ``model`` every this long."""
        key = (model, config)
        if key not in self._bottleneck:
            entry = self.profiles[model].configs.get(config)
            self._bottleneck[key] = np.inf if entry is None else entry.max_stage_latency_s(min(entry.batch_sizes))
        return self._bottleneck[key]

    def latency_s(self, model: str, config: ParallelConfig) -> float:
        entry = self.profiles[model].configs.get(config)
        return np.inf if entry is None else entry.total_latency_s(min(entry.batch_sizes))

    def useful(self, model: str, config: ParallelConfig) -> bool:
        """Whether a replica on ``config`` can ever meet the model's SLO and fits memory alone."""
        key = (model, config)
        found = self._useful.get(key)
        if found is None:  # cached: the fills and the annealing's moves ask this in their inner loops
            found = self._useful[key] = bool(self.memory.fits_alone(model, config)
                                             and self.latency_s(model, config) <= self.slo_s[self.index[model]])
        return found

    # ---- simulation ----------------------------------------------------------------------------
    def _get_scorer(self):
        if self._scorer is None:
            factory = self.options.scorer_factory
            if factory is None:
                from alpa_serve_like.simulator.scorer import PlacementScorer as factory
            self._scorer = factory(self.workload, self.profiles, self.options.sim_options)
        return self._scorer

    def score(self, placement: Placement) -> Score:
        """Simulate ``placement`` on the training workload (the unit of cost of every search)."""
        self.evaluations += 1
        self.simulated_requests += len(self.workload)
        result = self._get_scorer().score(placement)
        return _to_score(result, self.models)


def _rates_and_slos(workload: Workload, models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per model: requests per second over the workload's span, and median SLO (inf if no requests)."""
    rates = np.zeros(len(models))
    slos = np.full(len(models), np.inf)
    if len(workload) == 0:
        return rates, slos
    span_s = max(workload.span_s if workload.arrival_s[0] >= 0 else workload.duration_s, 1e-9)
    name_to_local = {m: i for i, m in enumerate(models)}
    counts = np.bincount(workload.model_id, minlength=len(workload.model_names))
    for wid, name in enumerate(workload.model_names):
        i = name_to_local.get(name)
        if i is None or counts[wid] == 0:
            continue
        rates[i] = counts[wid] / span_s
        slos[i] = float(np.median(workload.slo_s[workload.model_id == wid]))
    return rates, slos


def _to_score(result, models: Sequence[str]) -> Score:
    """Adapt the simulator's ScoreResult to per-model arrays in ``models`` order."""
    names = list(result.model_names)
    served = np.asarray(result.per_model_served, dtype=np.int64)
    total = np.asarray(result.per_model_total, dtype=np.int64)
    pos = {n: i for i, n in enumerate(names)}
    unserved = np.zeros(len(models), dtype=np.int64)
    totals = np.zeros(len(models), dtype=np.int64)
    for i, m in enumerate(models):
        j = pos.get(m)
        if j is not None:
            unserved[i] = total[j] - served[j]
            totals[i] = total[j]
    return Score(float(result.attainment), unserved, totals)
