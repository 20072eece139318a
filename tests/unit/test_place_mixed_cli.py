"""``place --cluster-spec`` and ``place --policy joint-search``: plans whose groups name their device
types (version 3), scored by ``simulate``; bad cluster specs and options refused in one line."""
import json
import shutil

import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import default_database_path

TRAFFIC = ["--rate", "4", "--duration", "30", "--cv", "1"]


def _place(tmp_path, *extra, models="bert-1.3b:2,bert-6.7b:1"):
    return main(["place", "--models", models, *TRAFFIC, "--out", str(tmp_path / "p.json"), *extra])


def test_a_mixed_cluster_plan_names_each_groups_device_and_simulate_scores_it(tmp_path, capsys):
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", "a100-80gb:1@0,v100-16gb:2@1") == 0
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["version"] == 3 and data["device"] == "a100-80gb"
    plan = Placement.load(tmp_path / "p.json")
    assert set(plan.device_types) == {"a100-80gb", "v100-16gb"}
    ids = sorted(d for ids in plan.device_assignment() for d in ids)
    assert ids == sorted(set(ids)) and set(ids) <= {0, 1, 2}
    for g, group_ids in zip(plan.groups, plan.device_assignment()):  # device 0 is the A100, 1-2 the V100s
        assert (g.device == "a100-80gb") == (group_ids == (0,))
    out = capsys.readouterr().out
    assert "mp-search per device type on 3 devices (a100-80gb, v100-16gb)" in out
    assert main(["trace", "generate", "--models", ",".join(plan.models), "--rate", "4", "--duration", "30",
                 "--slo-ms", "2000", "--out", str(tmp_path / "w.npz")]) == 0
    assert main(["simulate", "--placement", str(tmp_path / "p.json"), "--workload", str(tmp_path / "w.npz")]) == 0
    assert "SLO attainment" in capsys.readouterr().out


def test_joint_search_writes_its_best_candidate(tmp_path, capsys):
    db = tmp_path / "db.pkl"
    shutil.copy(default_database_path(), db)
    slices = ",".join(f"a100-80gb/{p}" for p in ("1g.10gb", "7g.80gb"))
    assert main(["profile", "--device", slices, "--models", "bert-1.3b", "--out", str(db), "--merge"]) == 0
    assert _place(tmp_path, "--policy", "joint-search", "--num-devices", "1", "--device", "a100-80gb",
                  "--slice-sizes", "1,7", "--db", str(db), models="bert-1.3b:2") == 0
    out = capsys.readouterr().out
    # one GPU: whole, or cut into 7 x 1g, or one 7g instance
    assert "joint-search: 3 candidates" in out
    plan = Placement.load(tmp_path / "p.json")
    assert all(g.device in ("a100-80gb", "a100-80gb/1g.10gb", "a100-80gb/7g.80gb") for g in plan.groups)
    assert plan.meta.get("search") == "joint"


def test_joint_search_without_slice_profiles_says_how_to_profile(tmp_path, capsys):
    assert _place(tmp_path, "--policy", "joint-search", "--num-devices", "1", "--device", "a100-80gb",
                  models="bert-1.3b:1") == 2
    err = capsys.readouterr().err.strip()
    assert "no profile of bert-1.3b on a100-80gb/1g.10gb" in err
    assert "alpa-serve-like profile --device a100-80gb/1g.10gb --models bert-1.3b" in err and "\n" not in err


@pytest.mark.parametrize("spec, expected", [
    ("a100:2", "cluster spec 'a100:2', entry 1 'a100:2': unknown device 'a100' (known: a100-40gb"),
    ("a100-80gb:2,v100-16gb", "entry 2 'v100-16gb': expected TYPE:COUNT[@NODE] with whole numbers"),
    ("a100-80gb:two", "entry 1 'a100-80gb:two': expected TYPE:COUNT[@NODE]"),
    ("a100-80gb:1@x", "entry 1 'a100-80gb:1@x': expected TYPE:COUNT[@NODE]"),
    ("a100-80gb:0", "need count >= 1"),
    ("a100-80gb/5g.50gb:1", "a100-80gb has no MIG profile '5g.50gb'"),
])
def test_bad_inline_cluster_specs_are_refused_naming_the_entry(tmp_path, capsys, spec, expected):
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", spec) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not JSON"),
    ('{"entries": []}', "expected an object with a non-empty 'entries' list"),
    ('[{"device_type": "a100-80gb", "count": 1}]', "expected an object with a non-empty 'entries' list"),
    ('{"entries": [{"device_type": "a100-80gb", "count": "2"}]}', "entries[0]: expected {\"device_type\": name"),
    ('{"entries": [{"device_type": "a100-80gb", "count": 1, "gpus": 8}]}', "entries[0]: expected"),
    ('{"entries": [{"device_type": "tpu", "count": 1}]}', "entries[0]: unknown device 'tpu'"),
])
def test_bad_cluster_spec_files_are_refused_naming_the_file(tmp_path, capsys, content, expected):
    path = tmp_path / "cluster.json"
    path.write_text(content)
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", str(path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"alpa-serve-like place: cluster spec {path}") and expected in err and "\n" not in err


def test_a_missing_cluster_spec_file_and_conflicting_options(tmp_path, capsys):
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", str(tmp_path / "none.json")) == 2
    assert capsys.readouterr().err.strip() == f"alpa-serve-like place: {tmp_path / 'none.json'}: no such file or directory"
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", "a100-80gb:1", "--memory-budget-gib", "9") == 2
    assert "--memory-budget-gib sets one budget for one device type" in capsys.readouterr().err
    assert _place(tmp_path, "--policy", "joint-search", "--num-devices", "1") == 2  # default device: v100-16gb
    assert "GPU 'v100-16gb' has no MIG profiles here (known: a100-40gb" in capsys.readouterr().err
    assert _place(tmp_path, "--policy", "joint-search", "--num-devices", "1", "--device", "a100-80gb",
                  "--slice-sizes", "1,5") == 2
    assert "--slice-sizes: a100-80gb has no 5-slice MIG instance (sizes: 1, 2, 3, 4, 7)" in capsys.readouterr().err
    assert _place(tmp_path, "--policy", "joint-search", "--cluster-spec", "a100-80gb:1") == 2
    assert "searches one GPU type (--num-devices N --device GPU), not --cluster-spec" in capsys.readouterr().err
    assert _place(tmp_path, "--policy", "joint-search", "--num-devices", "1", "--device", "a100-80gb",
                  "--mesh-policy", "nope") == 2
    assert "unknown placement policy 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one of the two, not both
        _place(tmp_path, "--policy", "mp-search", "--cluster-spec", "a100-80gb:1", "--num-devices", "2")


def test_a_file_spec_places_like_the_same_inline_spec(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"entries": [{"device_type": "a100-80gb", "count": 1},
                                            {"device_type": "v100-16gb", "count": 2, "node": 1}]}))
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", str(path)) == 0
    from_file = Placement.load(tmp_path / "p.json")
    assert _place(tmp_path, "--policy", "mp-search", "--cluster-spec", "a100-80gb:1,v100-16gb:2@1") == 0
    assert Placement.load(tmp_path / "p.json") == from_file


def test_a_model_no_type_can_hold_fails_unless_allowed_to_be_left_out(tmp_path, capsys):
    # bert-103.5b needs far more than two V100s hold; bert-1.3b fits them
    args = ("--policy", "mp-search", "--cluster-spec", "v100-16gb:2")
    assert _place(tmp_path, *args, models="bert-1.3b:1,bert-103.5b:1") == 2
    err = capsys.readouterr().err.strip()
    assert "model 'bert-103.5b-0' fits no device type of the cluster even alone (least need per device: v100-16gb:" in err
    assert _place(tmp_path, *args, "--allow-unplaced", models="bert-1.3b:1,bert-103.5b:1") == 0
    plan = Placement.load(tmp_path / "p.json")
    assert plan.models == ("bert-1.3b-0",) and plan.context.unplaced == ("bert-103.5b-0",)
    assert "left out (1, --allow-unplaced): bert-103.5b-0" in capsys.readouterr().out
