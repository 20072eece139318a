"""Slice profiles as database entries, and latency tables for groups on mixed devices."""
import math

import numpy as np
import pytest

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.cost_model.mig_profiles import slice_profile, slice_profiles
from alpa_serve_like.cost_model.mig_slices import slice_latency_s
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.scheduling.partition_tables import tables_from_device_profiles

ONE = ParallelConfig(1, 1, 1)


def test_profiles_per_slice_follow_the_slice_model():
    profiles = slice_profiles("resnet50", batch_sizes=(1, 4))
    assert [p.device for p in profiles] == ["a100-80gb/1g.10gb", "a100-80gb/2g.20gb", "a100-80gb/3g.40gb",
                                            "a100-80gb/4g.40gb", "a100-80gb/7g.80gb"]
    assert profiles[0].config(ONE).latency_s(4) == (slice_latency_s("resnet50", 1, 4),)
    assert slice_profile("resnet50", "a100-80gb").config(ONE).latency_s(1) == profiles[-1].config(ONE).latency_s(1)
    with pytest.raises(ValueError, match="calibrated on a100-80gb only"):
        slice_profile("resnet50", "h100-80gb/1g.10gb")


def test_tables_from_a_database_with_two_slice_types():
    db = ProfilingDatabase()
    for p in slice_profiles("resnet50", batch_sizes=(1, 4)) + slice_profiles("bert-base", batch_sizes=(1, 4)):
        db.add(p)
    devices = ["a100-80gb/1g.10gb", "a100-80gb/7g.80gb"]
    by_device = {d: db.for_device(d) for d in devices}
    t = tables_from_device_profiles(["resnet50", "bert-base"], devices, [["resnet50"], ["resnet50", "bert-base"]],
                                    by_device, max_batch_size=4, group_compute=[1, 7])
    assert t.host_ptr.tolist() == [0, 2, 3] and t.replica_group.tolist() == [0, 1, 1]
    one_g = [slice_latency_s("resnet50", 1, b) for b in (1, 4)]
    # batch 2 and 3 are interpolated linearly between the profiled 1 and 4
    expected = [one_g[0], one_g[0] + (one_g[1] - one_g[0]) / 3, one_g[0] + 2 * (one_g[1] - one_g[0]) / 3, one_g[1]]
    assert np.allclose(t.lat_s[0, 0], expected)
    assert t.group_compute.tolist() == [1.0, 7.0]
    with pytest.raises(KeyError, match="has no profiles"):
        tables_from_device_profiles(["resnet50"], ["v100-16gb"], [["resnet50"]], by_device, 4)
    assert not math.isnan(t.lat_s[2, 0, 0])
