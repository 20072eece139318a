"""Greedy fills and the policies built on them, scored by the hand-computable FluidScorer."""
import numpy as np
import pytest

from alpa_serve_like import ClusterSpec, ParallelConfig
from alpa_serve_like.placement import PlacementOptions, place
from alpa_serve_like.placement.greedy import greedy_fill
from alpa_serve_like.placement.mp_round_robin import paper_partition, paper_round_robin_fill, round_robin_fill
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.state import FillState
from alpa_serve_like.scheduling import SchedulingOptions
from builders import FluidScorer, make_profile, placement_workload

C1, C2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)
OPTS = PlacementOptions(scorer_factory=FluidScorer, max_pp=4)


def _inputs(counts, budget, num_devices, slo_s=10.0, profiles=None):
    profiles = profiles or {m: make_profile(m, weight_bytes=1000) for m in counts}
    workload = placement_workload(counts, duration_s=100.0, slo_s=slo_s)
    cluster = ClusterSpec(num_devices=num_devices, devices_per_node=4, memory_budget_bytes=budget)
    return cluster, list(counts), profiles, workload


def test_greedy_gives_the_most_unserved_model_the_next_replica_until_memory_is_full():
    # 1 s per request, 100 s of traffic: one device serves 100 requests. Two models fit a device.
    cluster, models, profiles, workload = _inputs({"a": 150, "b": 30, "c": 30}, budget=2100, num_devices=2)
    problem = PlacementProblem(cluster, models, profiles, workload, OPTS)
    state, score = greedy_fill(problem, FillState([C1, C1], problem.memory))
    # a (150 unserved) goes first, then a again (50 unserved vs 30), then b and c on the less
    # loaded devices; 4 slots, 4 replicas, nothing else fits
    assert state.replicas() == {"a": 2, "b": 1, "c": 1}
    assert state.hosted == [["a", "b"], ["a", "c"]]
    assert problem.evaluations == 5  # one simulation per replica plus the final one
    assert score.attainment == pytest.approx((100 + 30 + 30) / 210)


def test_screening_fill_adds_several_replicas_per_simulation():
    cluster, models, profiles, workload = _inputs({m: 10 for m in "abcdefgh"}, budget=1010, num_devices=8)
    problem = PlacementProblem(cluster, models, profiles, workload, OPTS)
    state, _ = greedy_fill(problem, FillState([C1] * 8, problem.memory), per_round=4)
    assert state.num_replicas() == 8 and problem.evaluations == 3


def test_mp_search_picks_the_pipeline_when_only_it_meets_the_slo():
    # alone on a device a request takes 1 s; the SLO is 0.8 s; a 2-stage pipeline takes 0.6 s
    fast = {C2: {1: [0.3, 0.3], 2: [0.6, 0.6], 4: [1.2, 1.2]}}
    profiles = {m: make_profile(m, weight_bytes=1000, stage_latency_s=fast) for m in "ab"}
    cluster, models, profiles, workload = _inputs({"a": 50, "b": 50}, budget=2100, num_devices=4,
                                                  slo_s=0.8, profiles=profiles)
    result = place("mp-search", cluster, models, profiles, workload, OPTS)
    assert {g.config for g in result.groups} == {C2}
    assert result.meta["train_attainment"] == pytest.approx(1.0)
    sr = place("sr-greedy", cluster, models, profiles, workload, OPTS)
    assert all(not g.models for g in sr.groups)  # a single device can never meet the SLO


def test_mp_greedy_uses_pipelines_of_the_given_size_and_remainder_groups():
    cluster, models, profiles, workload = _inputs({"a": 10, "b": 10}, budget=5000, num_devices=6)
    result = place("mp-greedy-4", cluster, models, profiles, workload, OPTS)
    assert [g.config for g in result.groups] == [ParallelConfig(1, 1, 4), C2]
    assert all(set(g.models) == {"a", "b"} for g in result.groups)


def test_round_robin_deals_models_in_turn_and_fills_every_group():
    cluster, models, profiles, workload = _inputs({"a": 1, "b": 1, "c": 1}, budget=2100, num_devices=3)
    problem = PlacementProblem(cluster, models, profiles, workload, OPTS)
    state = round_robin_fill(problem, (C1, C1, C1))
    assert state.hosted == [["a", "c"], ["b", "a"], ["c", "b"]]


def test_paper_round_robin_uses_4_device_pipelines_and_tries_only_the_cursor_group():
    assert paper_partition(11) == (ParallelConfig(1, 1, 4),) * 2 + (C1, C2)
    # 9 devices: two 4-stage groups (2 models each at 600 bytes per device) and one device that
    # holds none; the cursor stops at that device, so the dealing ends with room left elsewhere.
    cluster, models, profiles, workload = _inputs({"a": 1, "b": 1, "c": 1}, budget=600, num_devices=9)
    problem = PlacementProblem(cluster, models, profiles, workload, OPTS)
    assert paper_round_robin_fill(problem, paper_partition(9)).hosted == [["a"], ["b"], []]
    assert round_robin_fill(problem, paper_partition(9)).hosted == [["a", "c"], ["b", "a"], []]
    rr = place("mp-round-robin", cluster, models, profiles, workload, OPTS)
    assert [g.config.pp for g in rr.groups] == [4, 4, 1] and problem.evaluations == 0


def test_sr_ilp_and_mp_round_robin_run_end_to_end():
    cluster, models, profiles, workload = _inputs({"a": 150, "b": 30}, budget=1100, num_devices=3)
    ilp = place("sr-ilp", cluster, models, profiles, workload, OPTS.with_(ilp_time_limit_s=5))
    assert sorted(m for g in ilp.groups for m in g.models) == ["a", "a", "b"]
    rr = place("mp-round-robin-any", cluster, models, profiles, workload, OPTS)
    assert sum(len(g.models) for g in rr.groups) == 3


def test_mp_anneal_never_loses_to_its_start_keeps_its_budget_and_is_reproducible():
    counts = {"a": 300, "b": 120, "c": 40, "d": 20, "e": 10}
    cluster, models, profiles, workload = _inputs(counts, budget=3100, num_devices=4)
    import time
    tic = time.perf_counter()
    one = place("mp-anneal", cluster, models, profiles, workload, OPTS.with_(time_budget_s=0.3),
                np.random.default_rng(7))
    assert time.perf_counter() - tic < 1.5
    assert one.meta["train_attainment"] >= one.meta["start_train_attainment"]
    problem = PlacementProblem(cluster, models, profiles, workload, OPTS)
    problem.memory.check_placement(one)
    one.check_fits(cluster.num_devices)
    assert problem.score(one).attainment == pytest.approx(one.meta["train_attainment"])
    capped = OPTS.with_(time_budget_s=30.0, anneal_max_moves=40)
    runs = [place("mp-anneal", cluster, models, profiles, workload, capped, np.random.default_rng(7)) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].meta["tried"] == 40


def test_sr_gives_a_model_too_large_for_one_device_the_smallest_pipeline():
    # 'big' needs 2000 B alone: a 2-stage pipeline (1000 B per device) is the smallest that holds it
    profiles = {"big": make_profile("big", weight_bytes=2000), "s": make_profile("s", weight_bytes=500)}
    cluster, models, profiles, workload = _inputs({"s": 50, "big": 50}, budget=1100, num_devices=4,
                                                  profiles=profiles)
    result = place("sr-greedy", cluster, models, profiles, workload, OPTS)
    assert [g.config for g in result.groups] == [C2, C1, C1]
    assert "big" in result.groups[0].models and all(g.models == ("s",) for g in result.groups[1:])


def test_removing_a_model_leaves_the_usage_of_a_group_built_without_it():
    big = {C2: {1: [0.5, 0.5]}}
    profiles = {"a": make_profile("a", weight_bytes=1000), "b": make_profile("b", weight_bytes=3000, batch_sizes=(1, 8)),
                "c": make_profile("c", weight_bytes=2000, stage_latency_s=big)}
    cluster, models, profiles, workload = _inputs({"a": 1, "b": 1, "c": 1}, budget=10_000, num_devices=2,
                                                  profiles=profiles)
    memory = PlacementProblem(cluster, models, profiles, workload,
                              OPTS.with_(scheduling=SchedulingOptions(max_batch_size=8))).memory
    state, fresh = FillState([C2], memory), FillState([C2], memory)
    for m in "abc":
        state.add(0, m)
    before = state.copy()
    state.remove(0, "b")  # b has the largest activation reserve: the maximum must drop back
    for m in "ac":
        fresh.add(0, m)
    assert state.hosted == [["a", "c"]]
    assert (state.usage[0].weight_bytes.tolist(), state.usage[0].act_bytes.tolist()) == \
        (fresh.usage[0].weight_bytes.tolist(), fresh.usage[0].act_bytes.tolist())
    assert before.usage[0].act_bytes.max() > state.usage[0].act_bytes.max()  # the copy kept its own usage
