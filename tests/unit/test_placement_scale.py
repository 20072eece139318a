"""Placement for large clusters: mp-search-budget caps the simulations of its refining fills."""
import numpy as np

from alpa_serve_like import ClusterSpec
from alpa_serve_like.placement import PlacementOptions, place
from builders import FluidScorer, make_profile, placement_workload

OPTS = PlacementOptions(scorer_factory=FluidScorer, max_pp=4)


def _mixed_case():
    counts = {"a": 400, "b": 300, "c": 200, "d": 100, "e": 50, "f": 20}
    profiles = {m: make_profile(m, weight_bytes=4000) for m in counts}
    return counts, profiles, placement_workload(counts, duration_s=100.0, slo_s=4.0)


def test_budget_search_is_mp_search_when_the_budget_covers_every_replica():
    counts, profiles, w = _mixed_case()
    cluster = ClusterSpec(num_devices=16, devices_per_node=8, memory_budget_bytes=10_000)
    rng = np.random.default_rng(0)
    full = place("mp-search", cluster, list(counts), profiles, w, OPTS, rng)
    same = place("mp-search-budget-1000", cluster, list(counts), profiles, w, OPTS, rng)
    assert same.groups == full.groups and same.meta["evaluations"] == full.meta["evaluations"]
    capped = place("mp-search-budget-2", cluster, list(counts), profiles, w, OPTS, rng)
    assert capped.meta["evaluations"] < full.meta["evaluations"]
    assert set().union(*(set(g.models) for g in capped.groups)) == set(counts)
