"""Issue 12's simulator case, shared by ``bench_simulator.py`` and ``bench_vs_alpaserve.py``.

The mp-search placement of 32 v100-16gb devices (13 GiB budget) and 60 models (10 copies each of
six BERT/MoE bases, profiles of the shipped database) placed on 600 s of 64 req/s Gamma CV 4
traffic (power-law rates, alpha 0.5, SLO 5 x single-device latency, seed 0), scored on held-out
traffic of the same kind (seed 1) for a chosen duration.
"""
from __future__ import annotations

import numpy as np

MIXED = ["bert-6.7b", "moe-5.3b", "bert-2.6b", "moe-2.4b", "bert-1.3b", "moe-1.3b"]
DURATION_S = {"mp32-1m": 15940.0, "mp32-130k": 2025.0}
"""Held-out seconds giving about 1.02M and 130k requests."""
_PLACEMENT = {}


def build_mp32_case(name: str, placement_path: str | None = None):
    """(placement, held-out workload, profiles) of case ``name`` (a key of ``DURATION_S``); the
    placement is computed once per process, or read from ``placement_path`` (no search run)."""
    from alpa_serve_like.core.hardware import cluster_spec
    from alpa_serve_like.core.slo import slo_from_scale
    from alpa_serve_like.placement import PlacementOptions, instantiate_models
    from alpa_serve_like.placement.evaluate import run_policy
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
    from alpa_serve_like.trace.synthetic import make_workload

    base = ProfilingDatabase.load(default_database_path()).for_device("v100-16gb")
    models, profiles = instantiate_models({m: 10 for m in MIXED}, base)
    slo = slo_from_scale(models, profiles, 5.0)

    def make(seed, duration_s):
        return make_workload(models, 64.0, duration_s, np.random.default_rng(seed), slo_s=slo, process="gamma",
                             cv=4.0, split="power_law", alpha=0.5)

    if placement_path is not None:
        from alpa_serve_like.core.plan import Placement

        _PLACEMENT["placement"] = Placement.load(placement_path)
    if "placement" not in _PLACEMENT:
        cluster = cluster_spec(32, "v100-16gb", devices_per_node=8, memory_budget_gib=13.0)
        _PLACEMENT["placement"], _ = run_policy("mp-search", cluster, models, profiles, make(0, 600.0),
                                                PlacementOptions(), np.random.default_rng(0))
    return _PLACEMENT["placement"], make(1, DURATION_S[name]), profiles
