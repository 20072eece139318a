"""Mixed clusters: whole GPUs of two generations and MIG slices, per-type views, one type per group."""
import pytest

from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.core.mixed_cluster import DeviceEntry, MixedCluster
from alpa_serve_like.core.mig import slice_device


def _cluster():
    return MixedCluster((
        DeviceEntry("v100-16gb", 4, node=0),
        DeviceEntry("a100-80gb/1g.10gb", 3, node=1),
        DeviceEntry("a100-80gb/2g.20gb", 2, node=1),
        DeviceEntry("v100-16gb", 2, node=2),
    ))


def test_devices_are_numbered_in_entry_order():
    c = _cluster()
    assert c.num_devices == 11
    assert c.device_types == ("v100-16gb", "a100-80gb/1g.10gb", "a100-80gb/2g.20gb")
    assert c.device_ids("v100-16gb") == (0, 1, 2, 3, 9, 10)
    assert c.device_ids("a100-80gb/2g.20gb") == (7, 8)


def test_homogeneous_part_is_a_cluster_spec_of_that_type():
    part = _cluster().homogeneous_part("v100-16gb")
    assert (part.num_devices, part.devices_per_node, part.device_type) == (6, 4, "v100-16gb")
    assert part.memory_budget_bytes == int(16 * GiB * 0.8)
    sl = _cluster().homogeneous_part("a100-80gb/1g.10gb")
    assert sl.memory_budget_bytes == int(slice_device("a100-80gb/1g.10gb").memory_bytes * 0.8)


def test_groups_stay_within_one_type():
    c = _cluster()
    assert c.check_group((4, 5)) == "a100-80gb/1g.10gb"
    with pytest.raises(ValueError, match="spans device types"):
        c.check_group((3, 4))
    with pytest.raises(ValueError, match="has 11"):
        c.check_group((11,))
    with pytest.raises(KeyError, match="types: v100-16gb"):
        c.device_ids("h100-80gb")


def test_round_trip_and_validation():
    c = _cluster()
    assert MixedCluster.from_dict(c.to_dict()) == c
    with pytest.raises(KeyError, match="unknown device"):
        DeviceEntry("tpu-v4", 1)
    with pytest.raises(ValueError, match="count >= 1"):
        DeviceEntry("v100-16gb", 0)
