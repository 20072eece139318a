"""Placement per device type on a mixed cluster (two V100s, two A100s), scored with simulate_plan."""
import numpy as np
import pytest
from builders import make_profile

from alpa_serve_like.core.mixed_cluster import DeviceEntry, MixedCluster
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.mixed_types import capacity_shares, place_per_type
from alpa_serve_like.simulator import SimOptions
from alpa_serve_like.simulator.mixed import simulate_plan

ONE = ParallelConfig(1, 1, 1)


def _profiles():
    # make_profile: b * 1.0 s on one device; the A100 version is 4x faster.
    v100 = {m: make_profile(m, "v100-16gb") for m in ("a", "b")}
    fast = {ONE: {1: [0.25], 2: [0.5], 4: [1.0]}}
    a100 = {m: make_profile(m, "a100-80gb", stage_latency_s=fast) for m in ("a", "b")}
    return {"v100-16gb": v100, "a100-80gb": a100}


def _workload(rate, n=200, seed=0):
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate, n))
    return Workload(arrival, rng.integers(0, 2, n), np.full(n, 4.0), ("a", "b"))


CLUSTER = MixedCluster((DeviceEntry("v100-16gb", 2), DeviceEntry("a100-80gb", 2, node=1)))


def test_shares_follow_devices_over_latency():
    # 2 / 1.0 s vs 2 / 0.25 s: the A100s carry 4/5 of the traffic.
    assert capacity_shares(CLUSTER, _workload(1.0), _profiles()) == pytest.approx({"v100-16gb": 0.2, "a100-80gb": 0.8})


def test_groups_are_built_per_type_and_both_types_serve():
    train, test = _workload(9.0, seed=1), _workload(9.0, seed=2)  # A100s alone carry 8/s
    placed = place_per_type("sr-greedy", CLUSTER, ["a", "b"], _profiles(), train, rng=np.random.default_rng(0))
    devices = placed.group_devices()
    assert set(devices) == {"v100-16gb", "a100-80gb"} and placed.is_mixed
    for ids, device in zip(placed.device_assignment(), devices):  # ids in the mixed cluster, of the group's type
        assert CLUSTER.check_group(ids) == device
    placed.check_fits(CLUSTER.num_devices)
    both = simulate_plan(placed, _profiles(), test, SimOptions())
    v100_only = Placement(tuple(g for g in placed.groups if g.device == "v100-16gb"))
    alone = simulate_plan(v100_only, _profiles(), test, SimOptions())
    assert both.attainment > alone.attainment
    assert set(np.unique(both.group[both.group >= 0]).tolist()) == set(range(len(placed.groups)))


def test_mixed_plan_round_trips_through_its_file(tmp_path):
    placed = place_per_type("sr-greedy", CLUSTER, ["a", "b"], _profiles(), _workload(9.0, seed=1),
                            rng=np.random.default_rng(0))
    placed.save(tmp_path / "mixed.json")
    back = Placement.load(tmp_path / "mixed.json")
    assert back == placed and back.group_devices() == placed.group_devices()
    assert MixedCluster.from_dict(back.meta["mixed_cluster"]) == CLUSTER


def test_a_model_too_big_for_one_type_is_placed_only_on_the_others():
    from alpa_serve_like.core.hardware import GiB
    from alpa_serve_like.placement.memory import PlacementInfeasibleError

    # "b": 30 GiB of weights, over the V100s' 12.8 GiB budget even split over both (pp2), within an A100's
    profiles = _profiles()
    for device in profiles:
        profiles[device]["b"] = make_profile("b", device, weight_bytes=30 * GiB)
    plan = place_per_type("mp-search", CLUSTER, ["a", "b"], profiles, _workload(2.0), rng=np.random.default_rng(0))
    assert all("b" not in g.models for g in plan.groups if g.device == "v100-16gb")
    assert any("b" in g.models for g in plan.groups if g.device == "a100-80gb")
    for device in profiles:
        profiles[device]["b"] = make_profile("b", device, weight_bytes=200 * GiB)
    with pytest.raises(PlacementInfeasibleError, match=r"model 'b' fits no device type of the cluster even alone "
                                                       r"\(least need per device: v100-16gb: 100.00 GiB of 12.80 GiB; "
                                                       r"a100-80gb: 100.00 GiB of 64.00 GiB\)"):
        place_per_type("mp-search", CLUSTER, ["a", "b"], profiles, _workload(2.0), rng=np.random.default_rng(0))
