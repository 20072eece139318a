"""The mixed-integer placement (HiGHS via scipy.optimize.milp) on hand-checkable cases."""
from alpa_serve_like import ClusterSpec, ParallelConfig
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.ilp import solve_ilp
from alpa_serve_like.placement.problem import PlacementProblem
from builders import make_profile, placement_workload

C1 = ParallelConfig(1, 1, 1)


def _problem(counts, budget, slo_s=10.0, num_devices=3, profiles=None):
    profiles = profiles or {m: make_profile(m, weight_bytes=1000) for m in counts}
    workload = placement_workload(counts, duration_s=100.0, slo_s=slo_s)
    cluster = ClusterSpec(num_devices=num_devices, memory_budget_bytes=budget)
    return PlacementProblem(cluster, list(counts), profiles, workload, PlacementOptions())


def test_spare_device_goes_to_the_busier_model():
    # one model per device (1000 B weights + 10 B activations <= 1500 B), three devices:
    # every model needs one replica, the third device maximises min capacity/rate by serving 'a'
    problem = _problem({"a": 50, "b": 5}, budget=1500)
    state = solve_ilp(problem, (C1,) * 3, time_limit_s=5)
    assert sorted(state.replicas().items()) == [("a", 2), ("b", 1)]
    assert all(len(h) == 1 for h in state.hosted)


def test_spare_memory_is_used_for_extra_replicas():
    # two models per device fit: the replica tie-break fills memory (helps bursts) without hurting t
    problem = _problem({"a": 50, "b": 5}, budget=2100, num_devices=2)
    state = solve_ilp(problem, (C1,) * 2, time_limit_s=5)
    assert state.replicas() == {"a": 2, "b": 2}


def test_configs_that_miss_the_slo_are_never_used():
    # the 1-stage config takes 1.0 s, the SLO is 0.6 s: only the 2-stage pipeline (0.5 s) is useful
    fast = {ParallelConfig(1, 1, 2): {1: [0.25, 0.25]}}
    profiles = {"a": make_profile("a", weight_bytes=1000, stage_latency_s=fast)}
    problem = _problem({"a": 10}, budget=1500, slo_s=0.6, num_devices=3, profiles=profiles)
    partition = (ParallelConfig(1, 1, 2), C1)
    state = solve_ilp(problem, partition, time_limit_s=5)
    assert state.hosted == [["a"], []]
    assert solve_ilp(problem, (C1,) * 3, time_limit_s=5) is None
