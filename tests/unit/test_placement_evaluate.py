"""Train/test separation, Clockwork++ window discipline, mp-search-sep helpers, the result table."""
import numpy as np
import pytest

from alpa_serve_like import ClusterSpec, ParallelConfig
from alpa_serve_like.placement import PlacementOptions, place
from alpa_serve_like.placement.evaluate import (compare_policies, format_table, train_and_evaluate,
                                                write_tsv)
from alpa_serve_like.placement.mp_search_sep import latency_clusters, restrict, split_devices
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy, unregister_policy
from alpa_serve_like.core.plan import PlacementSchedule
from builders import FluidScorer, fluid_attainment, make_profile, placement_workload

OPTS = PlacementOptions(scorer_factory=FluidScorer, max_pp=4)


def _profiles(names, weight_bytes=1000):
    return {m: make_profile(m, weight_bytes=weight_bytes) for m in names}


def test_policies_see_only_the_training_workload_and_results_say_so():
    seen = []

    @register_policy("test-spy")
    def spy(cluster, models, profiles, train, options, rng):
        """Records what it was given."""
        seen.append(train)
        return place("sr-greedy", cluster, models, profiles, train, options)

    try:
        # training traffic is all 'a'; the test traffic is all 'b'; one device holds one model
        train = placement_workload({"a": 50, "b": 0}, duration_s=100.0)
        test = placement_workload({"a": 0, "b": 50}, duration_s=100.0)
        cluster = ClusterSpec(num_devices=1, memory_budget_bytes=1100)
        row = train_and_evaluate("test-spy", cluster, ["a", "b"], _profiles("ab"), train, test, OPTS,
                                 labels=("train-X", "test-Y"), evaluator=fluid_attainment)
        assert seen == [train]
        assert row.train_attainment == 1.0 and row.test_attainment == 0.0  # placed for a, scored on b
        assert (row.trained_on, row.evaluated_on) == ("train-X", "test-Y")
        assert "trained on train-X; evaluated on test-Y" in format_table([row])
        with pytest.raises(ValueError, match="same workload"):
            train_and_evaluate("test-spy", cluster, ["a", "b"], _profiles("ab"), train, train, OPTS)
        copy = placement_workload({"a": 50, "b": 0}, duration_s=100.0)  # equal requests, other object
        with pytest.raises(ValueError, match="same workload"):
            train_and_evaluate("test-spy", cluster, ["a", "b"], _profiles("ab"), train, copy, OPTS)
    finally:
        unregister_policy("test-spy")


def test_infeasible_policies_become_rows_and_tsv_is_written(tmp_path):
    train = placement_workload({"a": 10}, duration_s=10.0)
    test = placement_workload({"a": 12}, duration_s=10.0)
    cluster = ClusterSpec(num_devices=2, devices_per_node=2, memory_budget_bytes=800)
    profiles = _profiles("a", weight_bytes=1200)  # 1200 B alone; 600 B per device as a 2-stage pipeline
    rows = compare_policies(["mp-greedy-1", "mp-greedy-2"], cluster, ["a"], profiles, train, test, OPTS,
                            evaluator=fluid_attainment)
    assert "'a' fits no group" in rows[0].error and np.isnan(rows[0].test_attainment)
    assert rows[1].error == "" and rows[1].test_attainment == 1.0
    write_tsv(rows, tmp_path / "t.tsv")
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["policy", "test_attainment_pct", "train_attainment_pct"]
    assert lines[2].split("\t")[1] == "100.00"


def _windows(pattern, window_s=10.0, per_window=20):
    """Traffic where window k carries only model pattern[k]."""
    arrivals, ids = [], []
    for k, m in enumerate(pattern):
        arrivals += list(k * window_s + np.arange(per_window) * window_s / per_window)
        ids += ["ab".index(m)] * per_window
    from alpa_serve_like.core.workload import Workload
    return Workload(np.array(arrivals), np.array(ids), np.full(len(ids), 10.0), ("a", "b"))


def test_clockwork_plans_each_window_from_the_previous_one_unless_oracle():
    cluster = ClusterSpec(num_devices=1, memory_budget_bytes=1100)  # room for one model
    train = _windows("a")
    observed = _windows("aba")
    sched = place("sr-replace-10", cluster, ["a", "b"], _profiles("ab"), train, OPTS, observed=observed)
    assert isinstance(sched, PlacementSchedule)
    assert sched.start_s == (0.0, 10.0, 20.0)
    hosted = [seg.groups[0].models for seg in sched.segments]
    assert hosted == [("a",), ("a",), ("b",)]  # train, then window 0 (a), then window 1 (b)
    oracle = place("sr-replace-10", cluster, ["a", "b"], _profiles("ab"), train, OPTS.with_(oracle=True),
                   observed=observed)
    assert [seg.groups[0].models for seg in oracle.segments] == [("a",), ("b",), ("a",)]


def test_separation_helpers():
    assert split_devices([3.0, 1.0], 32, 8) == [24, 8]
    assert split_devices([1.0, 1.0, 1.0], 16, 8) is None  # three parts cannot get a node each
    assert split_devices([5.0, 1.0, 1.0], 8, 1) == [6, 1, 1]
    slow = {ParallelConfig(1, 1, p): {1: [3.0 / p] * p} for p in (1, 2, 4)}
    profiles = {"f1": make_profile("f1"), "f2": make_profile("f2"),
                "s1": make_profile("s1", stage_latency_s=slow)}
    w = placement_workload({"f1": 5, "s1": 5, "f2": 5})
    problem = PlacementProblem(ClusterSpec(num_devices=4), ["f1", "s1", "f2"], profiles, w, OPTS)
    assert latency_clusters(problem) == [["f1", "f2"], ["s1"]]
    sub = restrict(w, ["s1"])
    assert len(sub) == 5 and set(sub.model_id.tolist()) == {1} and sub.model_names == w.model_names


def test_in_sample_scores_on_the_training_traffic_and_says_so():
    # placed for 'a' (the training traffic); held out on 'b' it serves nothing, in-sample everything
    train = placement_workload({"a": 50, "b": 0}, duration_s=100.0)
    test = placement_workload({"a": 0, "b": 50}, duration_s=100.0)
    cluster = ClusterSpec(num_devices=1, memory_budget_bytes=1100)
    held_out, in_sample = (compare_policies(["sr-greedy"], cluster, ["a", "b"], _profiles("ab"), train, test, OPTS,
                                            labels=("seed 0", "seed 1"), evaluator=fluid_attainment,
                                            in_sample=flag)[0] for flag in (False, True))
    assert held_out.test_attainment == 0.0 and held_out.evaluated_on == "seed 1"
    assert in_sample.test_attainment == 1.0 and in_sample.evaluated_on == "seed 0 (in-sample)"
