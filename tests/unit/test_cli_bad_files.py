"""Every file a CLI subcommand reads, when broken, gives one line on stderr naming the file and what
was expected, exit status 2, and no traceback or terminal colour codes (issue 11).

Each case writes one bad file into ``tmp_path`` and runs the subcommand in-process; the other
inputs of the command are good, so the bad file is the only possible cause.
"""
from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest
from builders import make_profile

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.trace.workload_io import save_workload

MODELS = ("bert-x-0", "bert-x-1")


# ---- good inputs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Paths of a good database, placement and workload (the inputs a case does not break; made
    once, no command writes them)."""
    tmp_path = tmp_path_factory.mktemp("good")
    db = ProfilingDatabase()
    db.add(make_profile("bert-x", device="test-gpu"))
    db.save(tmp_path / "db.pkl")
    Placement((GroupPlacement(ParallelConfig(1, 1, 2), MODELS),)).save(tmp_path / "p.json")
    w = Workload(np.array([0.0, 0.25, 0.5, 3.0]), np.array([0, 1, 0, 1]), np.full(4, 1.4), MODELS)
    save_workload(w, tmp_path / "w.npz")
    return {"db": tmp_path / "db.pkl", "placement": tmp_path / "p.json", "workload": tmp_path / "w.npz"}


# ---- bad files: name -> writer(path) ---------------------------------------------------------------
def _text(content: str | bytes):
    def write(path):
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return write


def _npz(**arrays):
    def write(path):
        with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez(f, **arrays)
    return write


def _workload_npz(**override):
    fields = {"kind": np.array("alpa_serve_like.workload"), "format_version": np.array(1),
              "meta_json": np.array("{}"), "arrival_s": np.array([0.0, 1.0]), "model_id": np.array([0, 1]),
              "slo_s": np.array([1.0, 1.0]), "model_names_json": np.array(json.dumps(list(MODELS)))}
    fields.update(override)
    return _npz(**{k: v for k, v in fields.items() if v is not None})


def _cache_npz(**override):
    fields = {"kind": np.array("alpa_serve_like.maf2_cache"), "format_version": np.array(1),
              "meta_json": np.array("{}"), "function_keys": np.array([b"a/f"]), "function": np.array([0, 0]),
              "arrival_s": np.array([0.5, 1.5]), "duration_s": np.array([0.1, 0.1])}
    fields.update(override)
    return _npz(**{k: v for k, v in fields.items() if v is not None})


def _npy(path):
    with open(path, "wb") as f:
        np.save(f, np.arange(4.0))


def _truncated_npz(path):
    _workload_npz()(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _directory(path):
    path.mkdir()


def _missing(path):
    pass


def _json(value):
    return _text(json.dumps(value))


def _placement(*groups, **top):
    return _json({"format": "alpa_serve_like.placement", "version": 2, **top, "groups": list(groups)})


COMMON = {
    "missing": _missing,
    "directory": _directory,
    "empty": _text(""),
    "garbage": _text(b"\x89\x00\xffnot this format\x00" * 20),
}

NPZ_COMMON = {
    **COMMON,
    "npy": _npy,
    "truncated": _truncated_npz,
    "zip-without-arrays": lambda p: zipfile.ZipFile(p, "w").close(),
    "pickled-object-array": _npz(kind=np.array([{"a": 1}], dtype=object)),
}

BAD_WORKLOADS = {
    **NPZ_COMMON,
    "not-ours": _npz(x=np.arange(3)),
    "trace-cache": _cache_npz(),
    "2d-arrival": _workload_npz(arrival_s=np.zeros((2, 2))),
    "2d-model-id": _workload_npz(model_id=np.zeros((2, 1), dtype=int)),
    "missing-slo": _workload_npz(slo_s=None),
    "text-arrival": _workload_npz(arrival_s=np.array(["a", "b"])),
    "names-not-json": _workload_npz(model_names_json=np.array("[oops")),
    "names-not-list": _workload_npz(model_names_json=np.array('{"a": 1}')),
    "meta-not-object": _workload_npz(meta_json=np.array("[1, 2]")),
    "meta-not-json": _workload_npz(meta_json=np.array("{")),
    "version-text": _workload_npz(format_version=np.array("two")),
    "version-2d": _workload_npz(format_version=np.zeros((2, 2))),
    "model-id-out-of-range": _workload_npz(model_id=np.array([0, 7])),
    "length-mismatch": _workload_npz(slo_s=np.array([1.0])),
}

BAD_CACHES = {
    **NPZ_COMMON,
    "workload": _workload_npz(),
    "2d-function": _cache_npz(function=np.zeros((2, 2), dtype=int)),
    "missing-arrival": _cache_npz(arrival_s=None),
    "function-out-of-range": _cache_npz(function=np.array([0, 5])),
    "negative-function": _cache_npz(function=np.array([-1, 0])),
    "length-mismatch": _cache_npz(duration_s=np.array([0.1])),
    "text-arrival": _cache_npz(arrival_s=np.array(["a", "b"])),
    "unsorted-arrival": _cache_npz(arrival_s=np.array([2.0, 1.0])),
    "meta-not-json": _cache_npz(meta_json=np.array("{")),
}

GROUP = {"op": 1, "pp": 2, "models": list(MODELS)}
BAD_PLACEMENTS = {
    **COMMON,
    "not-utf8": _text(b'{"groups": [], "x": "\xff\xfe"}'),
    "invalid-json": _text('{"groups": [}'),
    "deeply-nested": _text('{"groups": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "top-level-list": _json([GROUP]),
    "no-groups-key": _json({"version": 2}),
    "empty-groups": _placement(),
    "groups-not-list": _json({"groups": {"a": 1}}),
    "group-not-object": _placement("abc"),
    "models-is-text": _placement({**GROUP, "models": "bert-x-0"}),
    "no-models": _placement({"op": 1, "pp": 2}),
    "empty-models": _placement({**GROUP, "models": []}),
    "pp-1000000": _placement({**GROUP, "pp": 1_000_000}),
    "pp-1e30": _placement({**GROUP, "pp": 10**30}),
    "pp-fraction": _placement({**GROUP, "pp": 1.5}),
    "pp-text": _placement({**GROUP, "pp": "two"}),
    "pp-true": _placement({**GROUP, "pp": True}),
    "op-zero": _placement({**GROUP, "op": 0}),
    "negative-device-id": _placement({**GROUP, "device_ids": [-1, 0]}),
    "huge-device-id": _placement({**GROUP, "device_ids": [0, 10**9]}),
    "device-ids-text": _placement({**GROUP, "device_ids": "01"}),
    "device-in-two-groups": _placement({**GROUP, "device_ids": [0, 1]}, {**GROUP, "device_ids": [1, 2]}),
    "version-text": _placement(GROUP, version="2"),
    "version-99": _placement(GROUP, version=99),
    "meta-list": _placement(GROUP, meta=[1]),
    "budget-negative": _placement(GROUP, memory_budget_bytes=-5),
    "scheduling-list": _placement(GROUP, scheduling=[1]),
    "slo-text": _placement(GROUP, slo="fast"),
    "unplaced-number": _placement(GROUP, unplaced=7),
    "device-object": _placement(GROUP, device={"a": 1}),
    "empty-segments": _json({"segments": []}),
    "segment-no-start": _json({"segments": [{"placement": {"groups": [GROUP]}}]}),
    "segment-not-object": _json({"segments": [1]}),
    "segment-start-text": _json({"segments": [{"start_s": "x", "placement": {"groups": [GROUP]}}]}),
    "segment-empty-groups": _json({"segments": [{"start_s": 0, "placement": {"groups": []}}]}),
}


def _pickle(value):
    def write(path):
        path.write_bytes(pickle.dumps(value))
    return write


def _truncated_db(path):
    db = ProfilingDatabase()
    db.add(make_profile("bert-x", device="test-gpu"))
    db.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_DATABASES = {
    **COMMON,
    "truncated": _truncated_db,
    "json": _json({"devices": {}}),
    "npz": _workload_npz(),
    "list-pickle": _pickle([1, 2, 3]),
    "code-pickle": _text(b"cos\nsystem\n(S'echo hi'\ntR."),
}

BAD_CSV = {
    **COMMON,
    "header-only-wrong": _text("a,b,c\n1,2,3\n"),
    "not-utf8": _text(b"\xff\xfe\x00h\x00e\x00a\x00d\n"),
}

BAD_LLM_CSV = {
    **BAD_CSV,
    "bad-timestamp": _text("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,3,4\n"),
    "negative-tokens": _text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.5,-3,4\n"),
    "header-only": _text("TIMESTAMP,ContextTokens,GeneratedTokens\n"),
}

BAD_MAF2 = {
    **BAD_CSV,
    "text-duration": _text("app,func,end_timestamp,duration\na,f,1.5,slow\n"),
    "nan-end": _text("app,func,end_timestamp,duration\na,f,nan,0.5\n"),
}

BAD_TSV = {
    **COMMON,
    "no-rows": _text("ModelName\tBS\n"),
    "short-row": _text("bert-1.3b\t1\t1\n"),
    "not-utf8": _text(b"\xff\xfebert\t1\n"),
}

BAD_LEGACY = {
    **COMMON,
    "truncated": _truncated_db,
    "list-pickle": _pickle([1, 2, 3]),
    "code-pickle": _text(b"cos\nsystem\n(S'echo hi'\ntR."),
}

BAD_REFERENCE = {
    **COMMON,
    "invalid-json": _text("{"),
    "deeply-nested": _text("[" * 100_000 + "]" * 100_000),
    "list": _json([1, 2]),
    "wrong-fields": _json({"rows": "x"}),
}


# ---- commands: which bad files each reads, and its argv ---------------------------------------------
SIM = ["--device", "test-gpu"]
PLACE = ["--policy", "sr-greedy", "--num-devices", "2", "--device", "test-gpu", "--memory-budget-gib", "1",
         "--models", "bert-x:2"]


def _commands():
    """(bad files, command id, argv builder); the builder gets (bad path, good paths, tmp_path)."""
    out = []
    w = lambda cid, f: out.append((BAD_WORKLOADS, cid, f))
    w("simulate", lambda bad, g, t: ["simulate", "--placement", g["placement"], "--workload", bad, "--db", g["db"], *SIM])
    w("place", lambda bad, g, t: ["place", *PLACE, "--db", g["db"], "--workload", bad, "--out", t / "o.json"])
    w("compare", lambda bad, g, t: ["compare-policies", "--policies", "sr-greedy", *PLACE[2:], "--db", g["db"],
                                    "--workload", bad])
    w("compare-test", lambda bad, g, t: ["compare-policies", "--policies", "sr-greedy", *PLACE[2:], "--db", g["db"],
                                         "--workload", g["workload"], "--test-workload", bad])
    out.append(({k: v for k, v in BAD_WORKLOADS.items() if k != "trace-cache"}, "trace-info",  # info reads caches too
                lambda bad, g, t: ["trace", "info", bad]))
    w("replay", lambda bad, g, t: ["replay", "--url", "http://127.0.0.1:9", "--workload", bad, "--out", t / "r.tsv"])
    c = lambda cid, f: out.append((BAD_CACHES, cid, f))
    # trace build also takes a built workload (an LLM trace to map onto --models), so a workload is no bad cache there
    out.append(({k: v for k, v in BAD_CACHES.items() if k != "workload"}, "trace-build",
                lambda bad, g, t: ["trace", "build", bad, "--models", "2", "--minutes", "1", "--out", t / "o.npz"]))
    out.append(({k: v for k, v in BAD_CACHES.items() if k != "workload"}, "trace-info-cache",
                lambda bad, g, t: ["trace", "info", bad]))
    p = lambda cid, f: out.append((BAD_PLACEMENTS, cid, f))
    p("simulate", lambda bad, g, t: ["simulate", "--placement", bad, "--workload", g["workload"], "--db", g["db"], *SIM])
    p("replay", lambda bad, g, t: ["replay", "--url", "http://127.0.0.1:9", "--workload", g["workload"],
                                   "--placement", bad, "--db", g["db"], *SIM, "--out", t / "r.tsv"])
    p("serve", lambda bad, g, t: ["serve", "--placement", bad, "--db", g["db"], *SIM])
    d = lambda cid, f: out.append((BAD_DATABASES, cid, f))
    d("simulate", lambda bad, g, t: ["simulate", "--placement", g["placement"], "--workload", g["workload"],
                                     "--db", bad, *SIM])
    d("replay", lambda bad, g, t: ["replay", "--url", "http://127.0.0.1:9", "--workload", g["workload"],
                                   "--placement", g["placement"], "--db", bad, *SIM, "--out", t / "r.tsv"])
    d("serve", lambda bad, g, t: ["serve", "--placement", g["placement"], "--db", bad, *SIM])
    d("place", lambda bad, g, t: ["place", *PLACE, "--db", bad, "--out", t / "o.json"])
    d("db-list", lambda bad, g, t: ["db", "list", bad])
    d("db-validate", lambda bad, g, t: ["db", "validate", bad])
    d("db-show", lambda bad, g, t: ["db", "show", "bert-x", "--db", bad])
    d("db-merge", lambda bad, g, t: ["db", "merge", g["db"], bad, "--out", t / "m.pkl"])
    out.append(({k: v for k, v in BAD_DATABASES.items() if k != "missing"}, "profile-merge",  # missing: a new one
                lambda bad, g, t: ["profile", "--models", "bert-1.3b", "--pps", "1", "--ops", "1",
                                   "--batch-sizes", "1", "--merge", "--out", bad]))
    out.append((BAD_LEGACY, "db-import-legacy",
                lambda bad, g, t: ["db", "import-legacy", bad, "--out", t / "o.pkl"]))
    out.append((BAD_TSV, "db-import-tsv", lambda bad, g, t: ["db", "import-tsv", bad, "--out", t / "o.pkl"]))
    out.append((BAD_LLM_CSV, "trace-convert-llm",
                lambda bad, g, t: ["trace", "convert", "--llm", bad, "--out", t / "o.npz"]))
    out.append((BAD_MAF2, "trace-convert-maf2",
                lambda bad, g, t: ["trace", "convert", "--maf2", bad, "--out", t / "o.npz"]))
    out.append(({"a-file": _text("x")}, "trace-convert-maf1-dir",
                lambda bad, g, t: ["trace", "convert", "--maf1-dir", bad, "--out", t / "o.npz"]))
    out.append((BAD_CSV, "trace-convert-maf1",
                lambda bad, g, t: ["trace", "convert", "--maf1-dir", bad.parent, "--out", t / "o.npz"]))
    out.append((BAD_REFERENCE, "profile-reference",
                lambda bad, g, t: ["profile", "--calibration-report", "--reference", bad]))
    return out


def _cases():
    for files, command, argv in _commands():
        for name, write in files.items():
            yield pytest.param(command, write, argv, id=f"{command}-{name}")


# Name of the bad file: MAF1 reads a directory of day files, so it gets the day-1 file name.
def _bad_path(tmp_path, command):
    if command == "trace-convert-maf1":
        folder = tmp_path / "maf1"
        folder.mkdir()
        return folder / "invocations_per_function_md.anon.d01.csv"
    return tmp_path / "bad-input.dat"


@pytest.mark.parametrize("command,write,argv", list(_cases()))
def test_bad_file_gives_one_line_naming_it(command, write, argv, good, tmp_path, capsys):
    bad = _bad_path(tmp_path, command)
    write(bad)
    rc = main([str(a) for a in argv(bad, good, tmp_path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert bad.name in lines[0], err
    assert "Traceback" not in err and "\x1b[" not in err


PLACE_SYNTHETIC = [*PLACE, "--duration", "5"]


def test_place_refuses_when_no_model_fits(good, tmp_path, capsys):
    out = tmp_path / "o.json"
    argv = [*PLACE_SYNTHETIC, "--memory-budget-gib", "1e-9", "--allow-unplaced", "--db", good["db"], "--out", out]
    assert main(["place", *map(str, argv)]) == 2
    err = capsys.readouterr().err
    assert not out.exists() and "no model fits" in err and "Traceback" not in err


def test_place_says_a_search_time_cap_is_ignored_by_other_policies(good, tmp_path, capsys):
    argv = [*PLACE_SYNTHETIC, "--memory-budget-gib", "1e-9", "--search-time-cap", "5", "--db", good["db"],
            "--out", tmp_path / "o.json"]
    main(["place", *map(str, argv)])  # no model fits: it stops early, after the note
    assert "note: --search-time-cap is ignored by sr-greedy; it applies to mp-anneal-budget-N" in capsys.readouterr().err


def test_place_never_writes_an_empty_placement(good, tmp_path, capsys, monkeypatch):
    import alpa_serve_like.placement as placement_package

    # a policy that places nothing although every model fits (the guard must not trust the policy)
    monkeypatch.setattr(placement_package, "place", lambda *args, **kwargs: Placement(()))
    out = tmp_path / "o.json"
    assert main(["place", *map(str, [*PLACE_SYNTHETIC, "--db", good["db"], "--out", out])]) == 2
    err = capsys.readouterr().err
    assert not out.exists() and "no group hosts a model" in err and len(err.splitlines()) == 1


def test_model_missing_from_the_database_is_one_line(good, tmp_path, capsys):
    plan = tmp_path / "other.json"
    _placement({**GROUP, "models": ["qqq-0"]})(plan)
    assert main(["simulate", "--placement", str(plan), "--workload", str(good["workload"]), "--db", str(good["db"]),
                 *SIM]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "no profile on test-gpu for qqq-0" in err


def test_colour_codes_never_reach_the_terminal(tmp_path, capsys):
    # a file name is user input: escape sequences in it must not colour (or move) the user's terminal
    name = "w\x1b[31mred\x1b[0m.npz"
    assert main(["trace", "info", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "wred.npz" in err and len(err.splitlines()) == 1


def test_schedule_with_groups_on_other_devices_is_refused_in_one_line(good, tmp_path, capsys):
    from alpa_serve_like.core.plan import PlacementSchedule

    sliced = Placement((GroupPlacement(ParallelConfig(1, 1, 1), MODELS, device="a100-80gb/3g.40gb"),))
    PlacementSchedule(start_s=(0.0, 1.0), segments=(sliced, sliced)).save(tmp_path / "s.json")
    assert main(["simulate", "--placement", str(tmp_path / "s.json"), "--workload", str(good["workload"]),
                 "--db", str(good["db"]), *SIM]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "s.json" in err and "a100-80gb/3g.40gb" in err and "each segment" in err
