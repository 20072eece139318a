"""The per-group device of a plan: round trip, the version it is written with, fallback to the
plan's device, and refusal of a bad value or of a newer reader's file by an older version."""
import json

import pytest

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlacementError, PlacementSchedule, PlanContext, load_plan

ONE = ParallelConfig(1, 1, 1)
SLICE = "a100-80gb/3g.40gb"


def _plan():
    groups = (GroupPlacement(ONE, ("a",), device=SLICE), GroupPlacement(ONE, ("a",), device="a100-80gb/1g.10gb"),
              GroupPlacement(ParallelConfig(1, 2, 1), ("b",)))
    return Placement(groups, context=PlanContext(device="a100-80gb"))


def test_group_devices_round_trip_as_version_3(tmp_path):
    plan = _plan()
    plan.save(tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["version"] == 3
    assert [g.get("device") for g in data["groups"]] == [SLICE, "a100-80gb/1g.10gb", None]
    back = Placement.load(tmp_path / "p.json")
    assert back == plan and back.group_devices() == (SLICE, "a100-80gb/1g.10gb", "a100-80gb")
    assert back.device_types == (SLICE, "a100-80gb/1g.10gb", "a100-80gb") and back.is_mixed
    assert back.summary().startswith(f"{SLICE}:(op1,pp1)[1]")


def test_plan_without_group_devices_stays_version_2_and_is_not_mixed(tmp_path):
    plan = Placement((GroupPlacement(ONE, ("a",)),), context=PlanContext(device="v100-16gb"))
    assert plan.to_dict()["version"] == 2 and "device" not in plan.to_dict()["groups"][0]
    assert plan.group_device(0) == "v100-16gb" and not plan.is_mixed
    same = Placement((GroupPlacement(ONE, ("a",), device="v100-16gb"),), context=PlanContext(device="v100-16gb"))
    assert not same.is_mixed
    all_sliced = Placement((GroupPlacement(ONE, ("a",), device=SLICE),) * 2, context=PlanContext(device="a100-80gb"))
    assert not all_sliced.is_mixed and all_sliced.device_types == (SLICE,)
    assert Placement((GroupPlacement(ONE, ("a",)),)).group_device(0) is None


def test_schedule_takes_the_highest_version_of_its_segments(tmp_path):
    plain = Placement((GroupPlacement(ONE, ("a",)),))
    sched = PlacementSchedule((0.0, 5.0), (plain, _plan()))
    sched.save(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["version"] == 3
    assert load_plan(tmp_path / "s.json").segments[1].groups[0].device == SLICE


def test_bad_device_values_are_refused(tmp_path):
    with pytest.raises(PlacementError, match="device must be a device type name"):
        GroupPlacement(ONE, ("a",), device="a100 80gb")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 3, "groups": [{"op": 1, "pp": 1, "models": ["a"], "device": 7}]}))
    with pytest.raises(PlacementError, match=r"group 0: 'device' must be a device type name"):
        Placement.load(path)
