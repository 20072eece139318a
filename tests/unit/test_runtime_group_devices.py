"""The runtime prices each group on its own device type when the plan's groups name one (no Ray)."""
import numpy as np

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.runtime.controller_core import ControllerCore
from alpa_serve_like.runtime.options import RuntimeOptions
from builders import make_database, uniform_stage_profile

ONE = ParallelConfig(1, 1, 1)
SLICE = "a100-80gb/1g.10gb"


def _plan():
    return Placement((GroupPlacement(ONE, ("bert-tiny-0",)), GroupPlacement(ONE, ("bert-tiny-0",), device=SLICE)))


def _never(g, generation):
    raise AssertionError("no group is started here")


def test_core_builds_tables_from_each_groups_device_profiles():
    by_device = {"cpu": {"bert-tiny-0": uniform_stage_profile(stage_s=0.01)},
                 SLICE: {"bert-tiny-0": uniform_stage_profile(device=SLICE, stage_s=0.05)}}
    core = ControllerCore(_plan(), by_device["cpu"], RuntimeOptions(warm_up=False), _never,
                          profiles_by_device=by_device)
    tables = core.scheduler.tables
    assert np.allclose(tables.lat_s[:, 0, 0], [0.01, 0.05])  # group 0 on cpu (profile_device), group 1 on the slice
    assert tables.group_compute.tolist() == [7.0, 1.0]
    plain = ControllerCore(_plan(), by_device["cpu"], RuntimeOptions(warm_up=False), _never)
    assert np.allclose(plain.scheduler.tables.lat_s[:, 0, 0], [0.01, 0.01])


def test_controller_uses_per_device_profiles_only_when_the_database_has_every_device():
    from alpa_serve_like.controllers.controller import per_group_device_profiles

    cpu = uniform_stage_profile(stage_s=0.01)
    both = make_database(cpu, uniform_stage_profile(device=SLICE, stage_s=0.05))
    got = per_group_device_profiles(_plan(), both, "cpu")
    assert set(got) == {"cpu", SLICE} and got[SLICE]["bert-tiny-0"].device == SLICE
    assert per_group_device_profiles(_plan(), make_database(cpu), "cpu") is None  # a CPU stand-in of a slice plan
    assert per_group_device_profiles(Placement((GroupPlacement(ONE, ("bert-tiny-0",)),)), both, "cpu") is None
