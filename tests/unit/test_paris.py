"""PARIS partition planning on a hand-computable latency model: latency(k, b) = 1 + b / k seconds."""
import pytest

from alpa_serve_like.core import mig
from alpa_serve_like.placement.paris import ParisConstants, batch_ranges, pack_geometries, paris_plan


def lat(k, b):
    return 1.0 + b / k


def test_max_batch_per_size_by_hand():
    # Throughput b*k/(k+b); best over b <= 8 is at b = 8. Utilisation b(k+8)/(8(k+b)) >= 0.8 gives
    # b >= 2.46 (1g), 3.56 (2g), 4.17 (3g), 5.2 (7g, but the largest size takes up to 8).
    assert batch_ranges(lat, 8) == {1: 3, 2: 4, 3: 5, 7: 8}
    # Threshold 0.9: 1g 9b >= 7.2(1+b), b >= 4; 2g 10b >= 7.2(2+b), b >= 5.1; 3g 11b >= 7.2(3+b), b >= 5.7.
    assert batch_ranges(lat, 8, ParisConstants(utilisation_threshold=0.9)) == {1: 4, 2: 6, 3: 6, 7: 8}


def test_shares_targets_and_packing_by_hand():
    plan = paris_plan(lat, {1: 0.5, 4: 0.25, 8: 0.25}, num_gpus=2)
    shares = dict(plan.shares)
    # 1g serves b=1: 0.5 * 2; 2g serves b=4: 0.25 * 3; 3g nothing; 7g serves b=8: 0.25 * 15/7.
    assert shares == pytest.approx({1: 1.0, 2: 0.75, 3: 0.0, 7: 0.25 * 15 / 7})
    # sum k r_k = 1 + 1.5 + 3.75 = 6.25; 14 slices -> scale 2.24.
    assert dict(plan.target_counts) == pytest.approx({1: 2.24, 2: 1.68, 3: 0.0, 7: 1.2})
    # (7) + (2,2,1,1,1) misses by 0.76 + 2*0.32 + 7*0.2 = 2.8 slices; every other pair misses more.
    assert plan.geometries == ((7,), (2, 2, 1, 1, 1))
    assert plan.partitions == (1, 1, 1, 2, 2, 7)
    assert plan.device_names[-1] == "a100-80gb/7g.80gb"
    assert all(mig.placement_is_valid(p) for p in plan.placements())
    cluster = plan.to_cluster(gpus_per_node=1)
    assert cluster.num_devices == 6 and cluster.device_ids("a100-80gb/1g.10gb") == (1, 2, 3)
    assert [e.node for e in cluster.entries] == [0, 1, 1]
    plan_value = plan.to_placement(["resnet50"])
    assert plan_value.group_devices() == plan.device_names and plan_value.context.device == "a100-80gb"
    assert [g.device_ids for g in plan_value.groups] == [(i,) for i in range(6)]
    assert plan_value.models == ("resnet50",) and plan_value.meta["geometries"] == [[7], [2, 2, 1, 1, 1]]


def test_greedy_packing_for_large_clusters_uses_valid_geometries():
    targets = {1: 14.0, 2: 7.0, 3: 0.0, 7: 4.0}  # 14 + 14 + 28 = 56 slices = 8 GPUs
    geos = pack_geometries(targets, 8, ParisConstants(exhaustive_limit=10))
    assert len(geos) == 8 and all(mig.geometry_fits(g) for g in geos)
    assert sum(g.count(7) for g in geos) == 4


def test_bad_inputs_name_the_fix():
    with pytest.raises(ValueError, match="batch_freq"):
        paris_plan(lat, {}, 1)
    with pytest.raises(ValueError, match="MIG size"):
        ParisConstants(sizes=(5,))
    with pytest.raises(KeyError, match="no MIG profiles"):
        paris_plan(lat, {1: 1.0}, 1, gpu="v100-16gb")
