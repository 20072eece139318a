"""Placement for large clusters: mp-search-budget (capped refining fills) and mp-search-shard."""
import numpy as np
import pytest

from alpa_serve_like import ClusterSpec
from alpa_serve_like.placement import PlacementOptions, place
from alpa_serve_like.placement.mp_search_shard import deal_models, model_loads, shard_sizes
from alpa_serve_like.placement.problem import PlacementProblem
from builders import FluidScorer, make_profile, placement_workload

OPTS = PlacementOptions(scorer_factory=FluidScorer, max_pp=4)


def _problem(counts, devices=16):
    profiles = {m: make_profile(m) for m in counts}
    w = placement_workload(counts, duration_s=100.0)
    return PlacementProblem(ClusterSpec(num_devices=devices, devices_per_node=8), list(counts), profiles, w, OPTS)


def test_models_are_dealt_largest_load_first_to_the_least_loaded_shard():
    # Equal latencies, so load follows the request counts: 60, 50, 40, 30, 20.
    problem = _problem({"a": 40, "b": 60, "c": 20, "d": 50, "e": 30})
    shards = deal_models(problem, 2)
    # b -> 0; d -> 1; a -> 1 (50 < 60); e -> 0 (60 < 90); c -> 0 (90 = 90, lower index)
    assert shards == [["b", "e", "c"], ["d", "a"]]
    loads = model_loads(problem)
    assert sum(loads[m] for m in shards[0]) / sum(loads[m] for m in shards[1]) == pytest.approx(110 / 90)


def test_shard_sizes_give_the_remainder_to_the_last_shard():
    assert shard_sizes(40, 16) == [16, 24]
    assert shard_sizes(64, 16) == [16, 16, 16, 16]
    assert shard_sizes(8, 16) == [8]


def test_each_shard_hosts_only_its_models_on_its_own_devices():
    counts = {"a": 40, "b": 60, "c": 20, "d": 50}
    problem = _problem(counts)
    profiles = {m: make_profile(m) for m in counts}
    w = placement_workload(counts, duration_s=100.0)
    cluster = ClusterSpec(num_devices=16, devices_per_node=8)
    rng = np.random.default_rng(0)
    out = place("mp-search-shard-8", cluster, list(counts), profiles, w, OPTS, rng)
    again = place("mp-search-shard-8", cluster, list(counts), profiles, w, OPTS, rng)
    assert out.groups == again.groups  # deterministic
    assert out.num_devices == 16 and out.meta["shards"] == 2
    hosted = [set(g.models) for g in out.groups]
    assert set().union(*hosted) == set(counts)
    shards = [set(s) for s in deal_models(problem, 2)]
    for models in hosted:  # no group mixes models of two shards
        assert any(models <= s for s in shards)


def test_shards_must_be_whole_nodes():
    counts = {"a": 10, "b": 10}
    with pytest.raises(ValueError, match="whole nodes"):
        place("mp-search-shard-4", ClusterSpec(num_devices=16, devices_per_node=8), list(counts),
              {m: make_profile(m) for m in counts}, placement_workload(counts), OPTS)


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
