"""mp-anneal-budget-N: a move budget instead of the clock, so a seed gives one result."""
import numpy as np
import pytest

from alpa_serve_like import ClusterSpec
from alpa_serve_like.placement import PlacementOptions, place
from builders import FluidScorer, make_profile, placement_workload


def test_a_move_budget_makes_the_search_reproducible():
    counts = {"a": 400, "b": 300, "c": 200, "d": 100, "e": 50, "f": 20}
    profiles = {m: make_profile(m, weight_bytes=4000) for m in counts}
    w = placement_workload(counts, duration_s=100.0, slo_s=4.0)
    cluster = ClusterSpec(num_devices=8, devices_per_node=8, memory_budget_bytes=10_000)
    # two fresh training draws besides the sample (anneal_copies=2): scored on all three
    opts = PlacementOptions(scorer_factory=FluidScorer, max_pp=4, anneal_copies=2)
    runs = [place("mp-anneal-budget-40", cluster, list(counts), profiles, w, opts, np.random.default_rng(3))
            for _ in range(2)]
    assert runs[0].groups == runs[1].groups
    assert runs[0].meta["tried"] == 40 and runs[0].meta["stopped_by"] == "move budget"
    assert runs[0].meta["policy"] == "mp-anneal-budget-40"


def test_a_seconds_cap_stops_the_budgeted_search_and_says_so():
    counts = {"a": 400, "b": 300, "c": 200}
    profiles = {m: make_profile(m, weight_bytes=4000) for m in counts}
    w = placement_workload(counts, duration_s=100.0, slo_s=4.0)
    cluster = ClusterSpec(num_devices=4, devices_per_node=4, memory_budget_bytes=10_000)
    opts = PlacementOptions(scorer_factory=FluidScorer, max_pp=4, anneal_copies=1, search_time_cap_s=1e-9)
    capped = place("mp-anneal-budget-40", cluster, list(counts), profiles, w, opts, np.random.default_rng(3))
    assert capped.meta["tried"] == 0 and capped.meta["stopped_by"] == "time cap"
    with pytest.raises(ValueError, match="search_time_cap_s"):
        PlacementOptions(search_time_cap_s=-1)
