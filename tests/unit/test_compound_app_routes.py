"""``apps=`` of the live server, checked before any actor starts: files, plans and hosted models."""
import json
from pathlib import Path

import pytest

from alpa_serve_like.compound.app_spec import AppSpecError
from alpa_serve_like.controllers.app_routes import read_app_entries, served_apps
from alpa_serve_like.core.plan import Placement

ROOT = Path(__file__).resolve().parents[2]
APP_FILE = ROOT / "examples" / "app_tiny_diamond.json"
HOSTED = Placement.load(ROOT / "examples" / "placement_tiny.json").models


def test_database_models_map_to_hosted_instances_with_an_even_budget_split():
    served = served_apps(read_app_entries(str(APP_FILE)), HOSTED)["tiny-diamond"]
    assert served.model_by_task == {"detect": "bert-tiny-0", "classify": "gpt-tiny-0", "track": "bert-tiny-0",
                                    "fuse": "bert-tiny-0"}
    assert served.deadline_offset_s_by_task == pytest.approx({"detect": 5 / 3, "classify": 10 / 3,
                                                              "track": 10 / 3, "fuse": 5.0})


def test_a_plan_gives_the_budgets_and_must_be_for_the_same_application(tmp_path):
    plan = {"app": "tiny-diamond", "variant_by_task": {"classify": "gpt-tiny"},
            "budget_s_by_task": {"detect": 1.0, "classify": 2.0, "track": 1.0, "fuse": 2.0}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    served = served_apps(read_app_entries(f"{APP_FILE}@{tmp_path / 'plan.json'}"), HOSTED)["tiny-diamond"]
    assert served.deadline_offset_s_by_task == {"detect": 1.0, "classify": 3.0, "track": 3.0, "fuse": 5.0}
    (tmp_path / "other.json").write_text(json.dumps({**plan, "app": "xr-chain"}))
    with pytest.raises(ValueError, match="is for application 'xr-chain', not 'tiny-diamond'"):
        read_app_entries(f"{APP_FILE}@{tmp_path / 'other.json'}")


def test_a_task_no_group_serves_is_refused_by_name():
    with pytest.raises(AppSpecError, match="task 'classify': none of \\['gpt-tiny'\\] is served"):
        served_apps(read_app_entries(str(APP_FILE)), ["bert-tiny-0"])
    with pytest.raises(ValueError, match="given twice"):
        served_apps(read_app_entries(f"{APP_FILE},{APP_FILE}"), HOSTED)


def test_apps_need_the_fused_ingress():
    from alpa_serve_like.serve import build_app

    with pytest.raises(ValueError, match="apps= is served by the fused controller only"):
        build_app({"placement": str(ROOT / "examples" / "placement_tiny.json"), "apps": str(APP_FILE),
                   "ingress": "separate"})

