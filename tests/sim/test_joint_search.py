"""Joint search over MIG geometries and model-parallel groups on toy profiles where each side wins.

``small`` (1 GB): a batch of one takes 0.01 + 0.01 / k s on a k-slice instance (the whole GPU is 7g).
``big1``/``big2`` (50 GB each): 1 s on a whole GPU, or 0.5 + 0.5 s as a two-GPU pipeline holding
25 GB per GPU; of the slices only 7g.80gb holds one of them (90 % of 80 GB), never both.
"""
import numpy as np

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.joint_search import joint_search

GPU = "a100-80gb"
ONE, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)
GB = 10**9


def _profiles():
    out = {}
    for device, k in [(p.device_name, p.compute_slices) for p in mig.profiles(GPU)] + [(GPU, 7)]:
        small = ModelProfile("small", device, {ONE: ConfigProfile(ONE, {1: (0.01 + 0.01 / k,)}, (GB,))})
        models = {"small": small}
        for name in ("big1", "big2"):
            configs = {ONE: ConfigProfile(ONE, {1: (7.0 / k,)}, (50 * GB,))}
            if device == GPU:
                configs[PP2] = ConfigProfile(PP2, {1: (0.5, 0.5)}, (25 * GB, 25 * GB))
            models[name] = ModelProfile(name, device, configs)
        out[device] = models
    return out


def test_partitions_win_for_a_small_model_under_heavy_traffic():
    n = 400  # one request every 5 ms, SLO 100 ms: a whole GPU serves one per 11.4 ms, seven 1g slices keep up
    w = Workload(np.arange(n) * 0.005, np.zeros(n, dtype=np.int64), np.full(n, 0.1), ("small",))
    found = joint_search(GPU, 1, _profiles(), w, policy="sr-greedy")
    assert found[0].whole_gpus == 0 and found[0].attainment == 1.0
    whole = next(c for c in found if c.whole_gpus == 1)
    assert whole.attainment < 0.5
    assert all(g.device.startswith(f"{GPU}/") for g in found[0].placement.groups)
    assert [c.attainment for c in found] == sorted((c.attainment for c in found), reverse=True)


def test_meshes_win_for_two_big_models_under_a_burst_of_one():
    # 20 requests of big1 in one second, then 2 of big2; SLO 6 s. One whole GPU or 7g instance per
    # model serves big1 at 1/s; a two-GPU pipeline hosting both serves it at 2/s.
    arrival = np.r_[np.arange(20) * 0.05, 5.0, 5.1]
    model = np.r_[np.zeros(20, dtype=np.int64), 1, 1]
    w = Workload(arrival, model, np.full(22, 6.0), ("big1", "big2"))
    found = joint_search(GPU, 2, _profiles(), w, placement_options=PlacementOptions(max_pp=2))
    best = found[0]
    assert best.whole_gpus == 2 and [g.config for g in best.placement.groups] == [PP2]
    assert best.placement.groups[0].device == GPU and best.label() == "meshes[(op1,pp2)]"
    sliced = [c for c in found if c.whole_gpus == 0]
    assert sliced and max(c.attainment for c in sliced) < best.attainment
    # every instance hosts what fits together: a 7g.80gb holds one big model, smaller ones none
    for c in sliced:
        for g in c.placement.groups:
            assert g.device == f"{GPU}/7g.80gb" and len(g.models) == 1
    # two 7g instances split the big models between them instead of both hosting big1
    both_7g = next(c for c in sliced if c.geometries == ((7,), (7,)))
    assert sorted(m for g in both_7g.placement.groups for m in g.models) == ["big1", "big2"]


def test_meshes_are_placed_under_the_scheduling_they_are_scored_with():
    import pytest

    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions

    w = Workload(np.array([0.0, 0.1]), np.zeros(2, dtype=np.int64), np.full(2, 1.0), ("small",))
    batched = SchedulingOptions(max_batch_size=4)
    with pytest.raises(ValueError, match="placement_options.scheduling .* differs from sim_options.scheduling"):
        joint_search(GPU, 1, _profiles(), w, placement_options=PlacementOptions(), sim_options=SimOptions(batched))
