"""The plan value: version-2 context fields round-trip, version-1 files still load, newer ones are
refused; the default memory budget follows the device type; the database fingerprint."""
import json

import numpy as np
import pytest

from alpa_serve_like.core.hardware import GiB, ClusterSpec, cluster_spec, default_memory_budget_bytes
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import (GroupPlacement, Placement, PlacementError, PlacementSchedule, PlanContext,
                                       load_plan)
from alpa_serve_like.core.slo import plan_slo_record, slo_from_ms, slo_from_scale
from alpa_serve_like.placement.memory import check_plan_fits_device, check_plan_memory
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.plan_record import scheduling_from_record, scheduling_record
from builders import make_profile

CONTEXT = PlanContext(device="a100-80gb", memory_budget_bytes=65 * GiB,
                      scheduling=scheduling_record(SchedulingOptions(max_batch_size=4, routing="shortest_queue")),
                      slo={"scale": 2.5}, database_fingerprint="sha256:abc", unplaced=("huge-0",))
GROUPS = (GroupPlacement(ParallelConfig(1, 1, 2), ("a-0", "b-0")), GroupPlacement(ParallelConfig(1, 2, 1), ("a-0",)))


def test_plan_round_trips_with_every_context_field(tmp_path):
    plan = Placement(GROUPS, meta={"policy": "x"}, context=CONTEXT)
    plan.save(tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["version"] == 2 and data["device"] == "a100-80gb" and data["memory_budget_bytes"] == 65 * GiB
    assert data["scheduling"]["max_batch_size"] == 4 and data["slo"] == {"scale": 2.5}
    assert data["unplaced"] == ["huge-0"] and data["database_fingerprint"] == "sha256:abc"
    back = Placement.load(tmp_path / "p.json")
    assert back == plan and back.context == CONTEXT and back.meta == {"policy": "x"}
    assert scheduling_from_record(back.context.scheduling) == SchedulingOptions(max_batch_size=4, routing="shortest_queue")
    assert scheduling_from_record(back.context.scheduling, max_batch_size=8).max_batch_size == 8


def test_schedule_round_trips_its_context(tmp_path):
    one = Placement(GROUPS)
    sched = PlacementSchedule((0.0, 60.0), (one, one), context=CONTEXT)
    sched.save(tmp_path / "s.json")
    back = load_plan(tmp_path / "s.json")
    assert isinstance(back, PlacementSchedule) and back.context == CONTEXT and back.models == ("a-0", "b-0")


def test_version_1_file_loads_with_the_context_absent(tmp_path):
    (tmp_path / "v1.json").write_text(json.dumps({
        "format": "alpa_serve_like.placement", "version": 1,
        "groups": [{"op": 1, "pp": 2, "models": ["bert-tiny-0"]}], "meta": {"policy": "old"}}))
    plan = Placement.load(tmp_path / "v1.json")
    assert plan.context == PlanContext() and plan.context.device is None and plan.context.max_batch_size is None
    assert PlacementSchedule.load(tmp_path / "v1.json").context == PlanContext()
    assert load_plan(tmp_path / "v1.json") == plan
    # a v1 file saved again becomes v2 with nothing invented
    plan.save(tmp_path / "v2.json")
    assert set(json.loads((tmp_path / "v2.json").read_text())) == {"format", "version", "groups", "meta"}


def test_newer_version_and_bad_context_are_refused(tmp_path):
    (tmp_path / "v9.json").write_text(json.dumps({"version": 9, "groups": []}))
    with pytest.raises(PlacementError, match="version 9 is not supported"):
        Placement.load(tmp_path / "v9.json")
    with pytest.raises(PlacementError, match="slo must be"):
        PlanContext(slo={"ms": 3})
    with pytest.raises(PlacementError, match="'memory_budget_bytes' must be > 0"):
        Placement.from_dict({"groups": [], "memory_budget_bytes": 0})


def test_default_memory_budget_is_a_share_of_the_device():
    assert default_memory_budget_bytes("v100-16gb") == 13 * GiB  # AlpaServe's budget
    assert default_memory_budget_bytes("a100-80gb") == 65 * GiB
    assert ClusterSpec(4).memory_budget_bytes == 13 * GiB
    assert ClusterSpec(4, device_type="h100-80gb").memory_budget_bytes == 65 * GiB
    assert cluster_spec(4, "a100-80gb", memory_budget_gib=20).memory_budget_bytes == 20 * GiB
    assert cluster_spec(4, "a100-80gb").devices_per_node == 4
    with pytest.raises(ValueError, match=r"'tpu-x' is not built in .*\(--memory-budget-gib\)"):
        ClusterSpec(4, device_type="tpu-x")


def test_database_fingerprint_follows_content_not_bytes(tmp_path):
    db = ProfilingDatabase()
    db.add(make_profile("m", weight_bytes=1000))
    db.save(tmp_path / "a.pkl")
    again = ProfilingDatabase.load(tmp_path / "a.pkl")
    assert again.fingerprint() == db.fingerprint() and db.fingerprint().startswith("sha256:")
    again.add(make_profile("m", weight_bytes=2000))
    assert again.fingerprint() != db.fingerprint()


def test_slo_helpers():
    profiles = {"a-0": make_profile("a"), "b-0": make_profile("b", stage_latency_s={
        ParallelConfig(1, 1, 1): {1: [0.2], 2: [0.3], 4: [0.5]}})}
    np.testing.assert_allclose(slo_from_scale(["a-0", "b-0"], profiles, 3.0), [3.0, 0.6])
    assert slo_from_ms("250") == 0.25 and slo_from_ms("a=50,b=200") == {"a": 0.05, "b": 0.2}
    with pytest.raises(ValueError, match="milliseconds"):
        slo_from_ms("fast")
    assert plan_slo_record(["a"], [], 5) == {"scale": 5.0}
    assert plan_slo_record(["a", "b"], [0.1, 0.2], None) == {"per_model_s": {"a": 0.1, "b": 0.2}}


def test_device_recheck_names_group_model_and_bytes():
    profiles = {"a-0": make_profile("a", weight_bytes=8000), "b-0": make_profile("b", weight_bytes=2000)}
    plan = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("b-0",)), GroupPlacement(ParallelConfig(1, 1, 2), ("a-0", "b-0"))))
    check_plan_fits_device(plan, profiles, "test-gpu", budget_bytes=6000)
    with pytest.raises(PlacementError) as err:
        check_plan_fits_device(plan, profiles, "test-gpu", budget_bytes=4000)
    # group 1, per stage: weights 4000 + 1000, activations reserved once (the larger: 10 at batch 1)
    assert ("placement group 1 (dp1_op1_pp2) does not fit on test-gpu: it needs 5,010 bytes" in str(err.value)
            and "budget is 4,000 bytes" in str(err.value) and "largest model 'a-0' alone needs 4,010 bytes" in str(err.value))


def test_each_group_is_checked_against_its_own_device_type():
    # same models on two types: a group of the small type over its budget fails naming that type,
    # while the same group on the plan's (large) type fits
    profiles = {"a-0": make_profile("a", weight_bytes=8000), "b-0": make_profile("b", weight_bytes=2000)}
    budgets = {"big-gpu": 9000, "small-gpu": 3000}
    big = GroupPlacement(ParallelConfig(1, 1, 1), ("a-0",))
    small = GroupPlacement(ParallelConfig(1, 1, 1), ("b-0",), device="small-gpu")
    check_plan_memory(Placement((big, small)), lambda d: profiles, budgets.__getitem__, 1, "big-gpu")
    too_big = GroupPlacement(ParallelConfig(1, 1, 1), ("a-0",), device="small-gpu")
    with pytest.raises(PlacementError) as err:
        check_plan_memory(Placement((big, small, too_big)), lambda d: profiles, budgets.__getitem__, 1, "big-gpu")
    assert ("placement group 2 (dp1_op1_pp1) does not fit on small-gpu: it needs 8,010 bytes" in str(err.value)
            and "budget is 3,000 bytes" in str(err.value) and "'a-0' alone needs 8,010 bytes" in str(err.value))
    with pytest.raises(PlacementError, match="group 0 names no device type"):
        check_plan_memory(Placement((big,)), lambda d: profiles, budgets.__getitem__, 1, None)
    with pytest.raises(PlacementError, match="group 1 runs on small-gpu, not big-gpu"):
        check_plan_fits_device(Placement((big, small)), profiles, "big-gpu", 9000)
