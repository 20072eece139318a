"""``alpa-serve-like compound``: plan and compare on a tiny application, and its error path."""
from __future__ import annotations

import json

from alpa_serve_like.cli.main import main

APP = {
    "name": "tiny", "slo_s": 0.5, "accuracy_slo": 0.8, "composition": "product",
    "tasks": [
        {"name": "a", "variants": [{"model": "moe-1.3b", "accuracy": 0.9}, {"model": "moe-2.4b", "accuracy": 0.95}]},
        {"name": "b", "parents": ["a"], "fan_out": 2, "variants": [{"model": "bert-1.3b", "accuracy": 0.9}]},
    ],
}


def test_plan_json_and_compare_tsv(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(APP))
    assert main(["compound", "plan", str(path), "--gpus", "1", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["app"] == "tiny" and plan["demand_rps"] > 0 and plan["optimal"] is True
    assert set(plan["variant_by_task"]) == {"a", "b"} and plan["gpus_used"] == 1
    out = tmp_path / "ablations.tsv"
    assert main(["compound", "compare", str(path), "--gpus", "1", "--sim-duration-s", "5", "--out", str(out)]) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0][:4] == ["app", "system", "gpus", "max_demand_rps"] and "slo_violation_rate" in rows[0]
    assert [r[1] for r in rows[1:]] == ["jigsaw", "no-variants", "no-partitioning", "even-budget", "per-model"]
    demand = {r[1]: float(r[3]) for r in rows[1:]}
    assert demand["jigsaw"] >= max(demand.values()) - 1e-6


def test_bad_application_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**APP, "composition": "mean"}))
    assert main(["compound", "plan", str(path), "--gpus", "1"]) == 2  # bad input: status 2, as every command
    err = capsys.readouterr().err
    assert "compound plan: error: application 'tiny': composition 'mean' is unknown" in err


def test_missing_application_file_and_bad_gpus_exit_2(tmp_path, capsys):
    assert main(["compound", "plan", str(tmp_path / "none.json"), "--gpus", "1"]) == 2
    assert "none.json" in capsys.readouterr().err
    path = tmp_path / "app.json"
    path.write_text(json.dumps(APP))
    assert main(["compound", "plan", str(path), "--gpus", "0"]) == 2
    assert "num_gpus must be >= 1" in capsys.readouterr().err


def test_unknown_device_and_bad_durations_are_one_line(tmp_path, capsys):
    path = tmp_path / "app.json"
    path.write_text(json.dumps(APP))
    # an unknown device was a KeyError traceback
    assert main(["compound", "plan", str(path), "--gpus", "1", "--device", "v99"]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'v99'" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert main(["compound", "plan", str(path), "--gpus", "1", "--time-limit-s", "0"]) == 2
    assert "--time-limit-s must be > 0" in capsys.readouterr().err
    assert main(["compound", "compare", str(path), "--gpus", "1", "--sim-duration-s", "-5"]) == 2
    assert "--sim-duration-s must be >= 0" in capsys.readouterr().err


def test_compare_refuses_one_application_twice(tmp_path, capsys):
    # the table had two sets of rows under one app name, which plot_jigsaw then mixed up
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(APP))
    b.write_text(json.dumps(APP))
    assert main(["compound", "compare", str(a), str(b), "--gpus", "1", "--no-hold", "--sim-duration-s", "0"]) == 2
    assert "application 'tiny' is given twice" in capsys.readouterr().err
