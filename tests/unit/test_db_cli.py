"""``alpa-serve-like db``: list, show, validate, import-legacy, import-tsv, merge on tiny databases."""
import subprocess
import sys

import pytest
from builders import make_database, make_profile, write_legacy_pickle

from alpa_serve_like import ConfigProfile, ModelProfile, ModelSpec, ParallelConfig
from alpa_serve_like.cli.main import main
from alpa_serve_like.profiling.benchmark_tsv import COLUMNS
from alpa_serve_like.profiling.database import ProfilingDatabase

SPEC = ModelSpec(name="tiny", family="bert", num_layers=2, hidden_size=64, num_heads=4, seq_len=32, vocab_size=100)


@pytest.fixture
def db_path(tmp_path):
    tiny = ModelProfile("tiny", "cpu", {ParallelConfig(): ConfigProfile(ParallelConfig(), {1: (0.002,)}, (5000,))},
                        spec=SPEC, source="analytic")
    db = make_database(make_profile("m0", batch_sizes=(1, 2)), make_profile("m1", weight_bytes=2**31), tiny,
                       make_profile("m0", device="cpu"))
    path = tmp_path / "db.pkl"
    db.save(path)
    return path


def db(capsys, *argv):
    rc = main(["db", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_list_shows_models_per_device(capsys, db_path):
    rc, out, _ = db(capsys, "list", db_path)
    assert rc == 0
    assert f"profiling database {db_path}: 3 models on 2 devices" in out
    lines = out.splitlines()
    test_gpu = lines[lines.index("test-gpu:") + 1:]
    assert test_gpu[0].split() == ["model", "configs", "batch", "sizes", "source", "params"]
    assert test_gpu[1].split() == ["m0", "3", "1,2", "test", "-"]
    assert test_gpu[2].split() == ["m1", "3", "1,2,4", "test", "-"]
    cpu = lines[lines.index("cpu:") + 1:lines.index("test-gpu:")]
    assert ["tiny", "1", "1", "analytic", f"{SPEC.num_params / 1e3:.1f}K"] in [line.split() for line in cpu]


def test_list_defaults_to_the_configured_database(capsys, db_path, monkeypatch):
    monkeypatch.setenv("ALPA_SERVE_LIKE_DB", str(db_path))
    rc, out, _ = db(capsys, "list")
    assert rc == 0 and str(db_path) in out and "m1" in out


def test_show_prints_a_latency_and_memory_table(capsys, db_path):
    rc, out, _ = db(capsys, "show", "m1", "--db", db_path, "--batch", "2", "--memory-budget-gib", "1.5")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "m1 on test-gpu (source test, params -), batch 2"
    assert lines[1].split() == ["config", "stages", "devices", "total_ms", "max_stage_ms", "weight/dev_GiB",
                                "peak/dev_GiB", "fits_1.5GiB"]
    # make_profile: batch b takes 1.0*b s split evenly over pp stages; weights 2 GiB split over stages
    assert lines[2].split() == ["dp1_op1_pp1", "1", "1", "2000.00", "2000.00", "2.00", "2.00", "no"]
    assert lines[3].split() == ["dp1_op1_pp2", "2", "2", "2000.00", "1000.00", "1.00", "1.00", "yes"]
    assert lines[4].split() == ["dp1_op1_pp4", "4", "4", "2000.00", "500.00", "0.50", "0.50", "yes"]


def test_show_without_device_prints_every_device(capsys, db_path):
    rc, out, _ = db(capsys, "show", "m0", "--db", db_path)
    assert rc == 0
    assert "m0 on cpu (source test, params -), batch 1" in out
    assert "m0 on test-gpu (source test, params -), batch 1" in out
    rc, out, _ = db(capsys, "show", "m0", "--db", db_path, "--device", "cpu")
    assert "test-gpu" not in out and "m0 on cpu" in out


@pytest.mark.parametrize("argv, expected", [
    (["show", "bert-9b"], r"model 'bert-9b' is not in the profiling database (known: m0, m1, tiny)"),
    (["show", "m0", "--device", "test-gpu", "--batch", "16"],
     "model 'm0' on test-gpu: no config has batch size 16 (profiled: [1, 2])"),
    (["show", "m0", "--device", "h100-80gb"], "device 'h100-80gb' is not in the profiling database (known: cpu, test-gpu)"),
])
def test_show_errors(capsys, db_path, argv, expected):
    rc, _, err = db(capsys, *argv, "--db", db_path)
    assert rc == 2
    assert expected in err


def test_validate_ok_and_coverage(capsys, db_path):
    rc, out, _ = db(capsys, "validate", db_path)
    assert rc == 0 and "OK: 3 models, 10 (model, device, config) entries on 2 devices (cpu, test-gpu)" in out
    rc, out, _ = db(capsys, "validate", db_path, "--models", "m0,m1", "--configs", "dp1_op1_pp2", "--batch-sizes", "1,2",
                    "--device", "test-gpu")
    assert rc == 0
    rc, _, err = db(capsys, "validate", db_path, "--models", "m0,m1,bert-9b", "--batch-sizes", "4", "--device", "test-gpu")
    assert rc == 2
    assert "model 'bert-9b' is not in the profiling database on test-gpu (known: m0, m1)" in err
    assert "model 'm0' on test-gpu dp1_op1_pp4: no batch size [4] (profiled: [1, 2])" in err
    assert "'m1'" not in err
    rc, _, err = db(capsys, "validate", db_path, "--configs", "dp1-op1")
    assert rc == 2 and "not of the form 'dp1_op2_pp4'" in err


def test_validate_reports_a_broken_file(capsys, tmp_path, db_path):
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(db_path.read_bytes()[:100])
    rc, _, err = db(capsys, "validate", broken)
    assert rc == 2
    assert f"alpa-serve-like db validate: error: {broken}: not a readable pickle" in err


def test_import_legacy_then_merge_and_overwrite(capsys, tmp_path, db_path):
    legacy = tmp_path / "alpaserve.pkl"
    write_legacy_pickle(legacy, {"bert-1.3b": {(1, 1, 2): ({1: [0.05, 0.05]}, {1: [1e6, 1e6]}, [1.3e9, 1.3e9])}},
                        protocol=2)
    out = tmp_path / "out.pkl"
    rc, stdout, _ = db(capsys, "import-legacy", legacy, "--out", out)
    assert rc == 0 and "imported bert-1.3b on v100-16gb: 1 configs" in stdout
    imported = ProfilingDatabase.load(out)
    assert imported.models() == ["bert-1.3b"]
    assert imported.get("bert-1.3b").configs[ParallelConfig(1, 1, 2)].weight_bytes == (1_300_000_000,) * 2

    rc, _, err = db(capsys, "import-legacy", legacy, "--out", db_path)
    assert rc == 2 and "already exists; pass --merge" in err
    assert ProfilingDatabase.load(db_path).models() == ["m0", "m1", "tiny"]  # untouched

    rc, _, _ = db(capsys, "import-legacy", legacy, "--device", "v100-16gb", "--out", db_path, "--merge")
    assert rc == 0
    merged = ProfilingDatabase.load(db_path)
    assert merged.models() == ["bert-1.3b", "m0", "m1", "tiny"] and merged.devices == ["cpu", "test-gpu", "v100-16gb"]

    rc, _, err = db(capsys, "import-legacy", legacy, "--device", "my-gpu", "--out", db_path, "--overwrite")
    assert rc == 0 and "not a built-in device type" in err
    assert ProfilingDatabase.load(db_path).devices == ["my-gpu"]


def test_import_legacy_refuses_a_malicious_file(capsys, tmp_path):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    rc, _, err = db(capsys, "import-legacy", evil, "--out", tmp_path / "out.pkl")
    assert rc == 2 and "refusing to load class os.system" in err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out.pkl").exists()


def test_import_tsv(capsys, tmp_path):
    tsv = tmp_path / "bench.tsv"
    tsv.write_text("\t".join(COLUMNS) + "\n" +
                   "\t".join(["gpt", "1", "1", "1", "2", "2", "4", "0.1", "0", "1", "[10, 10]", "[15, 12]", "[0.05, 0.06]"]) + "\n")
    out = tmp_path / "out.pkl"
    rc, stdout, _ = db(capsys, "import-tsv", tsv, "--device", "a100-80gb", "--out", out)
    assert rc == 0 and "imported gpt on a100-80gb: 1 configs" in stdout
    entry = ProfilingDatabase.load(out).get("gpt").configs[ParallelConfig(1, 2, 2)]
    assert entry.stage_latency_s == {1: (0.05, 0.06)} and entry.act_bytes == {1: (5, 2)}

    tsv.write_text("gpt\t1\n")
    rc, _, err = db(capsys, "import-tsv", tsv, "--out", out, "--overwrite")
    assert rc == 2 and f"{tsv} line 1: expected 13 columns, found 2" in err


def test_merge_later_inputs_win(capsys, tmp_path):
    a, b, c = tmp_path / "a.pkl", tmp_path / "b.pkl", tmp_path / "c.pkl"
    make_database(make_profile("m0"), make_profile("only-a")).save(a)
    make_database(make_profile("m0", weight_bytes=8_000), make_profile("only-b", device="cpu")).save(b)
    rc, out, _ = db(capsys, "merge", a, b, "--out", c)
    assert rc == 0
    assert f"m0 on test-gpu: taken from {b} (replaces an earlier input)" in out
    merged = ProfilingDatabase.load(c)
    assert merged.models() == ["m0", "only-a", "only-b"]
    assert merged.get("m0").configs[ParallelConfig()].weight_bytes == (8_000,)

    rc, _, err = db(capsys, "merge", b, a, "--out", c)
    assert rc == 2 and "already exists; pass --overwrite" in err
    rc, _, _ = db(capsys, "merge", b, a, "--out", a)  # writing over one of the inputs is allowed
    assert rc == 0 and ProfilingDatabase.load(a).get("m0").configs[ParallelConfig()].weight_bytes == (1_000,)
    rc, _, err = db(capsys, "merge", a, "--out", c, "--overwrite")
    assert rc == 2 and "at least two databases" in err


def test_help_through_the_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "alpa_serve_like", "db", "--help"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for sub in ("list", "show", "validate", "import-legacy", "import-tsv", "merge"):
        assert sub in result.stdout
    with pytest.raises(SystemExit) as exc:
        main(["db"])  # a subcommand is required
    assert exc.value.code == 2
