"""Placement per device type on a mixed cluster (two V100s, two A100s), scored with simulate_mixed."""
import numpy as np
import pytest
from builders import make_profile

from alpa_serve_like.core.mixed_cluster import DeviceEntry, MixedCluster
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.mixed_types import capacity_shares, place_per_type
from alpa_serve_like.simulator import SimOptions
from alpa_serve_like.simulator.mixed import simulate_mixed

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
    assert set(placed.group_devices) == {"v100-16gb", "a100-80gb"}
    assert sum(c.op * c.pp for c in placed.group_configs) <= 4
    both = simulate_mixed(placed.group_devices, placed.group_models, _profiles(), test, SimOptions(),
                          group_configs=placed.group_configs)
    v100_only = [i for i, d in enumerate(placed.group_devices) if d == "v100-16gb"]
    alone = simulate_mixed([placed.group_devices[i] for i in v100_only],
                           [placed.group_models[i] for i in v100_only], _profiles(), test, SimOptions(),
                           group_configs=[placed.group_configs[i] for i in v100_only])
    assert both.attainment > alone.attainment
    assert set(np.unique(both.group[both.group >= 0]).tolist()) == set(range(len(placed.group_devices)))
