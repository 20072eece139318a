"""The inputs of a placement problem, built from names and numbers a person types.

``place``/``compare-policies``, serve-time auto-placement and the placement benchmark all start
from "these base models, this many copies, this device type, this much traffic": this module turns
that into model instances with profiles (from the profiling database), per-model SLOs from a
scale (``core.slo``), and a synthetic training workload, so the three build their problems the same way.

It is the one placement module that reads the profiling database and the trace generators (both
sit below placement and depend only on core); the policies themselves see only core values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np

from alpa_serve_like.core.hardware import ClusterSpec
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.slo import slo_from_scale
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.memory import MemoryModel, check_models_fit, models_that_fit_nowhere
from alpa_serve_like.placement.models import instantiate_models, parse_model_counts
from alpa_serve_like.placement.partitions import enumerate_partitions
from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
from alpa_serve_like.trace.synthetic import make_workload


def load_models(
    cluster: ClusterSpec, model_counts: str, db_path: str | None = None, max_batch_size: int = 1,
    allow_unplaced: bool = False,
) -> tuple[list[str], dict[str, ModelProfile]]:
    """Instances of ``model_counts`` (``"bert-1.3b:10,moe-1.3b:10"``) with their profiles on
    ``cluster.device_type``; fails early (PlacementInfeasibleError) if a model fits no group shape
    of the cluster even alone with activations for ``max_batch_size``. With ``allow_unplaced`` such
    models are left out of the returned list instead (their profiles stay, so the caller can list
    them in the plan as unplaced)."""
    base = ProfilingDatabase.load(db_path or default_database_path()).for_device(cluster.device_type)
    models, profiles = instantiate_models(parse_model_counts(model_counts), base)
    every_shape = {c for p in enumerate_partitions(cluster.num_devices, cluster.devices_per_node, 64, 64) for c in p}
    memory = MemoryModel(profiles, cluster.memory_budget_bytes, max_batch_size)
    if allow_unplaced:
        nowhere = set(models_that_fit_nowhere(memory, models, every_shape))
        models = [m for m in models if m not in nowhere]
        if not models:
            raise ValueError("no model fits any group of this cluster; nothing to place")
    check_models_fit(memory, models, every_shape)
    return models, profiles


@dataclass(frozen=True)
class SyntheticTraffic:
    """Gamma arrivals split over the models, with SLO = ``slo_scale`` x single-device latency."""

    rate: float
    """Total requests per second over all models."""
    duration_s: float
    cv: float = 4.0
    """Coefficient of variation of each model's Gamma inter-arrival gaps (1: Poisson)."""
    split: Literal["uniform", "power_law"] = "power_law"
    """How the total rate is shared among the models."""
    alpha: float = 0.5
    """Exponent of the power-law split."""
    slo_scale: float = 5.0

    def workload(self, models: Sequence[str], profiles: Mapping[str, ModelProfile],
                 rng: np.random.Generator) -> Workload:
        return make_workload(models, self.rate, self.duration_s, rng,
                             slo_s=slo_from_scale(models, profiles, self.slo_scale), process="gamma",
                             cv=self.cv, split=self.split, alpha=self.alpha)

    def label(self, seed: int) -> str:
        return (f"synthetic gamma rate={self.rate:g}/s cv={self.cv:g} {self.split} alpha={self.alpha:g} "
                f"{self.duration_s:g}s SLO={self.slo_scale:g}x seed={seed}")


def check_workload_models(workload: Workload, models: Sequence[str]) -> None:
    """Every model with traffic must be among the models to place (else its requests can't be served)."""
    counts = np.bincount(workload.model_id, minlength=len(workload.model_names))
    unknown = [n for n, c in zip(workload.model_names, counts) if c and n not in set(models)]
    if unknown:
        raise ValueError(f"the workload has requests for {len(unknown)} model(s) not in --models, e.g. "
                         f"{', '.join(unknown[:3])}; --models must cover the workload's models "
                         f"(names are BASE-i, e.g. bert-1.3b-0), or map the workload's names onto them with --map")
