"""``alpa-serve-like profile`` and the shipped profiling_result.pkl."""
import importlib.util
from pathlib import Path

import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.cost_model.profile_builder import build_profile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
from alpa_serve_like.core.zoo import ALPASERVE_MODELS, TINY_MODELS, ZOO

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "profiling_result.pkl"


def test_help_explains_the_modes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--zoo", "--measure", "--merge", "--fit-calibration", "--models", "--device", "--out"):
        assert flag in text
    assert "analytic cost model" in text


def test_analytic_profile_writes_a_valid_database(tmp_path, capsys):
    out = tmp_path / "db.pkl"
    rc = main(["profile", "--models", "bert-tiny,gpt-tiny", "--device", "cpu", "--pps", "1,2,4,8",
               "--batch-sizes", "1,2", "--out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "[2/2]" in captured.err and "wrote" in captured.out
    db = ProfilingDatabase.load(out)
    assert db.models("cpu") == ["bert-tiny", "gpt-tiny"]
    tiny = db.get("bert-tiny", "cpu")
    assert max(c.pp for c in tiny.configs) == 2  # bert-tiny has 2 layers: pp 4 and 8 skipped
    assert tiny.config(ParallelConfig(1, 1, 2)).batch_sizes == (1, 2)
    assert tiny.source == "analytic" and tiny.spec == ZOO["bert-tiny"]


def test_merge_keeps_other_models_and_plain_run_overwrites(tmp_path):
    out = str(tmp_path / "db.pkl")
    assert main(["profile", "--models", "bert-tiny", "--device", "cpu", "--out", out]) == 0
    assert main(["profile", "--models", "gpt-tiny", "--device", "cpu,v100-16gb", "--out", out, "--merge"]) == 0
    db = ProfilingDatabase.load(out)
    assert db.models("cpu") == ["bert-tiny", "gpt-tiny"] and db.models("v100-16gb") == ["gpt-tiny"]
    assert main(["profile", "--models", "gpt-tiny", "--device", "cpu", "--out", out]) == 0
    assert ProfilingDatabase.load(out).models() == ["gpt-tiny"]


def test_unknown_model_or_device_fails_with_the_known_names(tmp_path, capsys):
    out = tmp_path / "db.pkl"
    assert main(["profile", "--models", "bert-9b", "--out", str(out)]) == 2
    assert "bert-1.3b" in capsys.readouterr().err
    assert main(["profile", "--models", "bert-tiny", "--device", "tpu-v9", "--out", str(out)]) == 2
    assert "v100-16gb" in capsys.readouterr().err
    assert not out.exists()


def test_calibration_report_prints_error_per_batch(capsys):
    assert main(["profile", "--calibration-report"]) == 0
    text = capsys.readouterr().out
    assert all(f"batch {b:>2}: max |error|" in text for b in (1, 2, 4, 8, 16))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="--measure needs torch")
def test_measure_times_a_tiny_model_on_cpu(tmp_path):
    out = tmp_path / "measured.pkl"
    # Default --ops includes op > 1, which the measured profiler skips.
    rc = main(["profile", "--measure", "--models", "bert-tiny", "--pps", "1,2",
               "--batch-sizes", "1", "--warmup", "0", "--repeats", "1", "--out", str(out)])
    assert rc == 0
    profile = ProfilingDatabase.load(out).get("bert-tiny", "cpu")
    assert profile.source == "measured"
    assert set(profile.configs) == {ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)}


# ---- the shipped database ----------------------------------------------------------------------
def test_shipped_database_covers_the_zoo_and_stays_small():
    assert SHIPPED.stat().st_size < 2 * 2**20
    db = ProfilingDatabase.load(SHIPPED)
    for device in ("v100-16gb", "a100-80gb", "h100-80gb"):
        assert db.models(device) == sorted(ALPASERVE_MODELS)
        big = db.get("bert-103.5b", device)
        assert {(c.op, c.pp) for c in big.configs} == {(op, pp) for op in (1, 2, 4, 8)
                                                      for pp in (1, 2, 4, 8, 16, 32)}
        assert all(entry.batch_sizes == (1, 2, 4, 8, 16) for entry in big.configs.values())
        assert max(c.pp for c in db.get("moe-1.3b", device).configs) == 16  # 16 layers
    assert db.models("cpu") == sorted(TINY_MODELS)


@pytest.mark.parametrize("name, device", [("bert-1.3b", "v100-16gb"), ("moe-2.4b", "h100-80gb"),
                                          ("bert-mini", "cpu")])
def test_shipped_database_matches_the_current_cost_model(name, device):
    # Fails when the cost model or its constants change without regenerating the file with
    #   alpa-serve-like profile --zoo --out profiling_result.pkl
    shipped = ProfilingDatabase.load(SHIPPED).get(name, device)
    fresh = build_profile(ZOO[name], device, configs=list(shipped.configs))
    for config, entry in fresh.configs.items():
        old = shipped.config(config)
        assert old.weight_bytes == entry.weight_bytes
        for b, lat in entry.stage_latency_s.items():
            assert old.latency_s(b) == pytest.approx(lat, rel=1e-9), (config.key, b)
            assert old.act_bytes[b] == entry.act_bytes[b]


def test_source_tree_default_database_is_the_root_file(tmp_path, monkeypatch):
    # One copy in the tree: a checkout (or editable install) reads the root file; the installed
    # copy under alpa_serve_like/data/ exists only in built packages (tests/packaging checks it).
    assert not (ROOT / "alpa_serve_like" / "data" / "profiling_result.pkl").exists()
    monkeypatch.delenv("ALPA_SERVE_LIKE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_database_path().resolve() == SHIPPED.resolve()
