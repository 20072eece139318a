"""mp-anneal-budget-N: a move budget instead of the clock, so a seed gives one result."""
import numpy as np

from alpa_serve_like import ClusterSpec
from alpa_serve_like.placement import PlacementOptions, place
from builders import FluidScorer, make_profile, placement_workload


def test_a_move_budget_makes_the_search_reproducible():
    counts = {"a": 400, "b": 300, "c": 200, "d": 100, "e": 50, "f": 20}
    profiles = {m: make_profile(m, weight_bytes=4000) for m in counts}
    w = placement_workload(counts, duration_s=100.0, slo_s=4.0)
    cluster = ClusterSpec(num_devices=8, devices_per_node=8, memory_budget_bytes=10_000)
    opts = PlacementOptions(scorer_factory=FluidScorer, max_pp=4, anneal_copies=1)
    runs = [place("mp-anneal-budget-40", cluster, list(counts), profiles, w, opts, np.random.default_rng(3))
            for _ in range(2)]
    assert runs[0].groups == runs[1].groups
    assert runs[0].meta["tried"] == 40
    assert runs[0].meta["policy"] == "mp-anneal-budget-40"
