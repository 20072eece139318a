"""A hand-written plan with a bad field is refused naming the file and the field, never read with
the field silently converted (``"4"`` -> 4), truncated (3.7 -> 3) or dropped (``dp``)."""
from __future__ import annotations

import json

import pytest

from alpa_serve_like.core.plan import Placement, PlacementError, load_plan

GROUPS = [{"op": 1, "pp": 1, "models": ["a-0"]}, {"op": 1, "pp": 1, "models": ["a-1"]}]


def _load(tmp_path, **fields):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"version": 2, "groups": GROUPS, **fields}))
    return load_plan(path)


@pytest.mark.parametrize("fields, named", [
    ({"memory_budget_bytes": "lots"}, "'memory_budget_bytes'"),
    ({"memory_budget_bytes": 3.7}, "'memory_budget_bytes'"),
    ({"memory_budget_bytes": True}, "'memory_budget_bytes'"),
    ({"slo": {"scale": "x"}}, "'slo.scale'"),
    ({"slo": {"scale": -1}}, "'slo.scale'"),
    ({"slo": {"scale": 0}}, "'slo.scale'"),
    ({"slo": {"per_model_s": {"a-0": -0.5}}}, "'slo.per_model_s.a-0'"),
    ({"slo": {"per_model_s": [1, 2]}}, "'slo.per_model_s'"),
    ({"slo": {"ms": 3}}, "'slo'"),
    ({"scheduling": [1]}, "'scheduling'"),
    ({"scheduling": {"max_batch_size": "4"}}, "'scheduling.max_batch_size'"),
    ({"scheduling": {"max_batch_size": 0}}, "'scheduling.max_batch_size'"),
    ({"database_fingerprint": 5}, "'database_fingerprint'"),
    ({"device": ""}, "'device'"),
    ({"device": "a100 80gb"}, "'device'"),
    ({"unplaced": "a-2"}, "'unplaced'"),
])
def test_bad_context_field_is_named(tmp_path, fields, named):
    with pytest.raises(PlacementError) as info:
        _load(tmp_path, **fields)
    assert named in str(info.value) and "plan.json" in str(info.value)


def test_good_context_fields_load(tmp_path):
    plan = _load(tmp_path, memory_budget_bytes=2**30, slo={"per_model_s": {"a-0": 0.5, "a-1": float("inf")}},
                 scheduling={"max_batch_size": 4})
    assert plan.context.memory_budget_bytes == 2**30
    assert plan.context.slo["per_model_s"]["a-0"] == 0.5 and plan.context.max_batch_size == 4


def test_group_dp_other_than_one_is_refused_not_dropped(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"groups": [{"dp": 2, "op": 1, "pp": 1, "models": ["a-0"]}]}))
    with pytest.raises(PlacementError, match=r"group 0: 'dp' must be 1 inside a group, got 2"):
        Placement.load(path)
    path.write_text(json.dumps({"groups": [{"dp": 1, "op": 1, "pp": 1, "models": ["a-0"]}]}))
    assert Placement.load(path).num_devices == 1


def test_shared_device_names_the_device_and_the_groups(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"groups": [{"op": 1, "pp": 2, "models": ["a-0"]},
                                           {"op": 1, "pp": 1, "models": ["a-1"], "device_ids": [1]}]}))
    with pytest.raises(PlacementError) as info:
        load_plan(path)
    text = str(info.value)
    assert "device 1 is assigned to groups 0 and 1" in text and "segment" not in text
    path.write_text(json.dumps({"groups": [{"op": 1, "pp": 2, "models": ["a-0"], "device_ids": [0, 0]}]}))
    with pytest.raises(PlacementError, match="device 0 is assigned to group 0 twice"):
        load_plan(path)


def test_an_empty_model_name_is_refused(tmp_path):
    # it reached the profile lookup as "no profile on v100-16gb for  (...)"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"groups": [{"op": 1, "pp": 1, "models": ["a-0", ""]}]}))
    with pytest.raises(PlacementError, match=r"group 0: 'models' must be a list of model names"):
        load_plan(path)
