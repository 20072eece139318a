"""``serve`` takes the profile device and batch size from the plan, says so, and re-checks memory
when asked to predict with another device type (no Ray: the app builder's checks only)."""
import argparse

import pytest

from alpa_serve_like.cli import serve_cmd
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlacementError, PlanContext
from alpa_serve_like.profiling.instance_profiles import load_database
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.serve import check_plan_device, defaults_from_plan

A100_PLAN = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("bert-6.7b-0", "bert-6.7b-1")),),
                      context=PlanContext(device="a100-80gb", scheduling={"max_batch_size": 2}))


def test_profile_device_and_batch_default_from_the_plan_and_are_said():
    args = {}
    notes = defaults_from_plan(A100_PLAN, args)
    assert args == {"profile_device": "a100-80gb", "max_batch_size": 2}
    assert notes == ["using device a100-80gb from the plan", "using max_batch_size 2 from the plan"]
    given = {"profile_device": "h100-80gb", "max_batch_size": "1"}
    assert defaults_from_plan(A100_PLAN, given) == [] and given["profile_device"] == "h100-80gb"
    assert defaults_from_plan(Placement(A100_PLAN.groups), {}) == []  # a version-1 plan: cpu as before


def test_another_device_rechecks_memory_and_refuses_naming_group_model_and_bytes():
    database = load_database()
    check_plan_device(A100_PLAN, database, RuntimeOptions(profile_device="a100-80gb"))
    check_plan_device(A100_PLAN, database, RuntimeOptions(profile_device="h100-80gb"))  # same memory: fits
    with pytest.raises(PlacementError, match=r"group 0 \(dp1_op1_pp1\) does not fit on v100-16gb: it needs "
                                             r"[\d,]+ bytes .* largest model 'bert-6.7b-\d' alone needs [\d,]+ bytes"):
        check_plan_device(A100_PLAN, database, RuntimeOptions(profile_device="v100-16gb"))


def test_serve_command_passes_the_device_only_when_given():
    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    plain = serve_cmd.app_arguments(parser.parse_args(["--placement", "p.json"]))
    assert plain == {"device": "auto", "placement": "p.json"}
    given = serve_cmd.app_arguments(parser.parse_args(["--placement", "p.json", "--device", "v100-16gb",
                                                       "--torch-device", "gpu"]))
    assert given["profile_device"] == "v100-16gb" and given["device"] == "gpu"


def test_a_group_naming_its_own_device_is_checked_against_that_type():
    database = load_database()
    fits = GroupPlacement(ParallelConfig(1, 1, 1), ("bert-1.3b-0",), device="v100-16gb")
    mixed = Placement(A100_PLAN.groups + (fits,), context=A100_PLAN.context)
    check_plan_device(mixed, database, RuntimeOptions(profile_device="a100-80gb"))
    too_big = GroupPlacement(ParallelConfig(1, 1, 1), ("bert-6.7b-0", "bert-6.7b-1"), device="v100-16gb")
    with pytest.raises(PlacementError, match=r"group 2 \(dp1_op1_pp1\) does not fit on v100-16gb: it needs [\d,]+ "
                                             r"bytes .* budget is 13,958,643,712 bytes"):
        check_plan_device(Placement(mixed.groups + (too_big,), context=A100_PLAN.context), database,
                          RuntimeOptions(profile_device="a100-80gb"))


def test_a_plan_whose_slice_types_the_database_lacks_is_checked_on_the_stand_in_device():
    # the controller predicts every group with profile_device then; so does the memory check
    database = load_database()
    sliced = GroupPlacement(ParallelConfig(1, 1, 1), ("bert-1.3b-0",), device="a100-80gb/3g.40gb")
    plan = Placement(A100_PLAN.groups + (sliced,), context=A100_PLAN.context)
    assert "a100-80gb/3g.40gb" not in database.devices
    check_plan_device(plan, database, RuntimeOptions(profile_device="a100-80gb"))
    with pytest.raises(PlacementError, match=r"group 0 \(dp1_op1_pp1\) does not fit on v100-16gb"):
        check_plan_device(plan, database, RuntimeOptions(profile_device="v100-16gb"))
