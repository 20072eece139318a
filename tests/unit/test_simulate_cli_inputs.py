"""``simulate`` on inputs that would otherwise print a silent ``nan%`` or run with a typo ignored:
an empty workload and a warm-up past its last arrival are refused, requests for models the plan
does not host are named, and a plan's scheduling record of the wrong type is refused naming the
field ("admission": "false" is a true string) while an unknown field is named in a note."""
from __future__ import annotations

import json

import numpy as np
import pytest
from builders import make_profile

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.trace.workload_io import save_workload

MODELS = ("bert-x-0", "bert-x-1")


@pytest.fixture()
def files(tmp_path):
    db = ProfilingDatabase()
    db.add(make_profile("bert-x", device="test-gpu"))
    db.save(tmp_path / "db.pkl")

    def plan(**fields):
        path = tmp_path / "p.json"
        path.write_text(json.dumps({"version": 2, "device": "test-gpu", "memory_budget_bytes": 10**9,
                                    "groups": [{"op": 1, "pp": 1, "models": list(MODELS)}], **fields}))
        return str(path)

    def workload(arrival_s, model_id=None, names=MODELS):
        arrival_s = np.asarray(arrival_s, dtype=float)
        ids = np.zeros(len(arrival_s), dtype=np.int32) if model_id is None else np.asarray(model_id)
        path = tmp_path / "w.npz"
        save_workload(Workload(arrival_s, ids, np.full(len(arrival_s), 5.0), names), path)
        return str(path)

    return {"db": str(tmp_path / "db.pkl"), "plan": plan, "workload": workload}


def _simulate(files, plan, workload, *extra):
    return main(["simulate", "--placement", plan, "--workload", workload, "--db", files["db"], *extra])


def test_empty_workload_is_refused(files, capsys):
    assert _simulate(files, files["plan"](), files["workload"]([])) == 2
    err = capsys.readouterr().err
    assert "w.npz holds no requests" in err and "nan" not in err


def test_warmup_past_the_last_arrival_is_refused(files, capsys):
    assert _simulate(files, files["plan"](), files["workload"]([0.0, 1.0, 2.0]), "--warmup", "5") == 2
    err = capsys.readouterr().err
    assert "--warmup 5 s leaves no request to measure" in err and "2.000 s" in err
    assert _simulate(files, files["plan"](), files["workload"]([0.0, 1.0, 2.0]), "--warmup", "1.5") == 0


def test_requests_for_models_the_plan_does_not_host_are_named(files, capsys):
    w = files["workload"]([0.0, 1.0, 2.0], [0, 1, 1], ("bert-x-0", "other-0"))
    assert _simulate(files, files["plan"](), w) == 0
    err = capsys.readouterr().err
    assert "2 of 3 requests are for models the plan does not host (other-0)" in err


@pytest.mark.parametrize("record, named", [
    ({"admission": "false"}, "'scheduling.admission' must be true or false"),
    ({"dispatch_overhead_s": "0.1"}, "'scheduling.dispatch_overhead_s' must be a number"),
    ({"routing": 3}, "'scheduling.routing' must be a name"),
    ({"routing": "bogus"}, "unknown routing policy 'bogus'"),
])
def test_bad_scheduling_record_is_refused(files, capsys, record, named):
    assert _simulate(files, files["plan"](scheduling=record), files["workload"]([0.0, 1.0])) == 2
    assert named in capsys.readouterr().err


def test_unknown_scheduling_field_is_named_in_a_note(files, capsys):
    plan = files["plan"](scheduling={"max_batchsize": 8})
    assert _simulate(files, plan, files["workload"]([0.0, 1.0])) == 0
    out = capsys.readouterr()
    assert "'max_batchsize'" in out.out + out.err and "ignored" in out.out + out.err


def test_workload_slos_other_than_the_plans_are_named(files, capsys):
    # the plan was optimised for 0.5 s; a test workload at the generator's default 5 s scores
    # something else, which used to pass without a word
    plan = files["plan"](slo={"per_model_s": {"bert-x-0": 0.5, "bert-x-1": 0.5}})
    assert _simulate(files, plan, files["workload"]([0.0, 1.0], [0, 1])) == 0
    err = capsys.readouterr().err
    assert "the workload's SLOs differ from the plan's" in err and "bert-x-0: 5 s in the workload, 0.5 s" in err


def test_matching_slos_and_plans_without_slo_say_nothing(files, capsys):
    plan = files["plan"](slo={"per_model_s": {"bert-x-0": 5.0, "bert-x-1": 5.0}})
    assert _simulate(files, plan, files["workload"]([0.0, 1.0], [0, 1])) == 0
    assert "SLOs differ" not in capsys.readouterr().err
    assert _simulate(files, files["plan"](), files["workload"]([0.0, 1.0], [0, 1])) == 0
    assert "SLOs differ" not in capsys.readouterr().err


def test_a_scale_plan_is_compared_through_the_profiles(files, capsys):
    # make_profile: 1.0 s per request on one device at batch 1, so scale 5 -> 5 s: matches
    assert _simulate(files, files["plan"](slo={"scale": 5}), files["workload"]([0.0, 1.0], [0, 1])) == 0
    assert "SLOs differ" not in capsys.readouterr().err
    assert _simulate(files, files["plan"](slo={"scale": 2}), files["workload"]([0.0, 1.0], [0, 1])) == 0
    assert "bert-x-0: 5 s in the workload, 2 s" in capsys.readouterr().err
