"""A placement computed at start-up from the profiling database and a declared expected load.

Used when ``serve run alpa_serve_like.serve:app`` gets no ``placement=`` file: the user states the
models (``bert-tiny:2,gpt-tiny:1``), the devices to use, the expected total rate and the SLO scale;
a synthetic Gamma workload with those numbers trains the named placement policy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alpa_serve_like.core.hardware import cluster_spec
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import ProfilingDatabase


@dataclass(frozen=True)
class ExpectedLoad:
    """What the operator expects; every field has a small-CPU-demo default."""

    models: str = "bert-tiny:2"
    """Base models and copies, ``NAME:COUNT,...``."""
    num_devices: int = 2
    rate: float = 20.0
    """Expected total requests per second over all models."""
    cv: float = 2.0
    """Expected burstiness (Gamma inter-arrival CV)."""
    slo_scale: float = 5.0
    """SLO = scale x single-device latency of each model."""
    policy: str = "mp-search"
    memory_budget_gib: float = 1.0
    duration_s: float = 120.0


def plan_placement(load: ExpectedLoad, database: ProfilingDatabase, device: str, max_batch_size: int = 1,
                   seed: int = 0) -> Placement:
    """Run ``load.policy`` on a synthetic workload shaped like ``load``."""
    from alpa_serve_like.core.slo import slo_from_scale
    from alpa_serve_like.placement import PlacementOptions, instantiate_models, parse_model_counts, place
    from alpa_serve_like.trace.synthetic import make_workload

    models, profiles = instantiate_models(parse_model_counts(load.models), database.for_device(device))
    cluster = cluster_spec(load.num_devices, device, devices_per_node=load.num_devices,
                           memory_budget_gib=load.memory_budget_gib)
    rng = np.random.default_rng(seed)
    slo = slo_from_scale(models, profiles, load.slo_scale)
    workload = make_workload(models, load.rate, load.duration_s, rng, slo_s=slo, process="gamma", cv=load.cv)
    placement = place(load.policy, cluster, models, profiles, workload,
                      PlacementOptions(max_batch_size=max_batch_size), rng)
    if not isinstance(placement, Placement):
        raise ValueError(f"policy {load.policy!r} returned a time-switched schedule; the runtime serves one "
                         f"placement: pick a static policy such as mp-search or sr-greedy")
    return placement
