"""One SchedulingOptions value, held (not copied) by the simulator's and the optimizer's options."""
import numpy as np
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.core.hardware import ClusterSpec
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.core.slo import slo_from_scale as slo_per_model
from alpa_serve_like.placement.problem_inputs import SyntheticTraffic, check_workload_models
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions, simulate
from builders import make_profile

PP1 = ParallelConfig(1, 1, 1)


def test_scheduling_options_round_trip_through_a_dict_and_refuse_unknown_keys():
    opts = SchedulingOptions(routing="shortest_queue", admission=False, max_batch_size=4, dispatch_overhead_s=0.01)
    assert SchedulingOptions.from_dict(opts.to_dict()) == opts
    assert SchedulingOptions.from_dict({"max_batch_size": 2}) == SchedulingOptions(max_batch_size=2)
    with pytest.raises(ValueError, match=r"unknown scheduling options \['max_batch'\]"):
        SchedulingOptions.from_dict({"max_batch": 2})


def test_sim_and_placement_options_hold_a_scheduling_value_not_its_fields():
    with pytest.raises(TypeError, match="SchedulingOptions"):
        SimOptions(scheduling={"max_batch_size": 4})
    with pytest.raises(TypeError):
        SimOptions(max_batch_size=4)  # the copied field is gone
    with pytest.raises(TypeError):
        PlacementOptions(max_batch_size=4)
    sched = SchedulingOptions(max_batch_size=4)
    assert PlacementOptions(scheduling=sched).sim_options == SimOptions(scheduling=sched)


def test_placement_is_scored_and_sized_with_the_servers_batch_size():
    # Four simultaneous requests, SLO 2.5 s; batch 1 takes 1.0 s, batches of 2-4 at most 1.2 s. One
    # at a time, two finish in time (1 s, 2 s); batched, the three queued behind the first run
    # together and finish at 2.2 s. Auto-placement used to score batch 1 while the server batched.
    profiles = {"a": make_profile("a", stage_latency_s={PP1: {1: [1.0], 2: [1.1], 4: [1.2]}})}
    w = Workload(np.zeros(4), np.zeros(4, dtype=np.int32), np.full(4, 2.5), ("a",))
    placement = Placement((GroupPlacement(PP1, ("a",)),))
    cluster = ClusterSpec(num_devices=1, devices_per_node=1, memory_budget_bytes=10**6, device_type="test-gpu")
    attainment = {}
    for batch in (1, 4):
        options = PlacementOptions(scheduling=SchedulingOptions(max_batch_size=batch))
        problem = PlacementProblem(cluster, ["a"], profiles, w, options)
        attainment[batch] = problem.score(placement).attainment
        assert problem.memory.max_batch_size == batch
        assert attainment[batch] == simulate(placement, w, profiles, SimOptions(options.scheduling)).attainment
    assert attainment == {1: 0.5, 4: 1.0}


def test_synthetic_traffic_uses_slo_scale_and_is_reproducible():
    profiles = {"a-0": make_profile("a"), "b-0": make_profile("b", stage_latency_s={PP1: {1: [0.5]}})}
    models = ["a-0", "b-0"]
    assert slo_per_model(models, profiles, 3.0).tolist() == [3.0, 1.5]
    traffic = SyntheticTraffic(rate=20.0, duration_s=30.0, cv=2.0, split="uniform", slo_scale=3.0)
    w1 = traffic.workload(models, profiles, np.random.default_rng(7))
    w2 = traffic.workload(models, profiles, np.random.default_rng(7))
    np.testing.assert_array_equal(w1.arrival_s, w2.arrival_s)
    assert set(np.round(w1.slo_s, 9)) == {3.0, 1.5}
    assert traffic.label(7) == "synthetic gamma rate=20/s cv=2 uniform alpha=0.5 30s SLO=3x seed=7"
    check_workload_models(w1, models)
    with pytest.raises(ValueError, match="1 model.* not in --models, e.g. b-0"):
        check_workload_models(w1, ["a-0"])
