"""``alpa-serve-like trace`` subcommands, run in-process through the CLI entry point."""
import numpy as np
import pytest
from builders import write_maf1_day, write_maf2

from alpa_serve_like.cli.main import main
from alpa_serve_like.trace.workload_io import load_workload


def test_generate_then_info(tmp_path, capsys):
    out = tmp_path / "w.npz"
    assert main(["trace", "generate", "--models", "a,b", "--rate", "40", "--cv", "2", "--duration", "100",
                 "--slo", "a=0.5,b=1.5", "--seed", "3", "--split", "power_law", "--alpha", "1"]
                + ["--out", str(out)]) == 0
    w = load_workload(out)
    assert w.model_names == ("a", "b") and w.meta["seed"] == 3 and w.meta["cv"] == 2.0
    assert set(np.unique(w.slo_s)) == {0.5, 1.5}
    assert len(w) / 100 == pytest.approx(40, rel=0.2)
    capsys.readouterr()
    assert main(["trace", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{len(w)} requests, 2 models" in text and "rate_per_s" in text and "cv" in text
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("a ", "b "))]
    assert [r[0] for r in rows] == ["a", "b"] and int(rows[0][1]) == int(np.sum(w.model_id == 0))


def test_convert_maf1_build_and_info(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_maf1_day(raw, 1, [("o", "a", "f1", "http", {m: 6 for m in range(1, 11)}),
                            ("o", "a", "f2", "timer", {m: 2 for m in range(1, 11)}), "broken,row"])
    cache = tmp_path / "maf1.npz"
    assert main(["trace", "convert", "--maf1-dir", str(raw), "--out", str(cache)]) == 2
    assert "d01.csv line 4: expected 1444 columns, found 2" in capsys.readouterr().err
    assert main(["trace", "convert", "--maf1-dir", str(raw), "--out", str(cache), "--skip-bad-rows"]) == 0
    assert "bad rows skipped 1" in capsys.readouterr().out
    assert main(["trace", "info", str(cache)]) == 0
    assert "maf1 trace cache, 2 functions, 80 requests" in capsys.readouterr().out
    out = tmp_path / "w.npz"
    assert main(["trace", "build", str(cache), "--models", "2", "--minutes", "10", "--mode", "exact",
                 "--spread", "even", "--out", str(out)]) == 0
    w = load_workload(out)
    np.testing.assert_array_equal(np.bincount(w.model_id), [60, 20])
    assert w.meta["span_s"] == 600.0


def test_convert_maf2_and_llm(tmp_path, capsys):
    raw = write_maf2(tmp_path / "inv.txt", [("a", "f", 1.5, 0.5), ("a", "g", 2.0, 0.0)])
    assert main(["trace", "convert", "--maf2", str(raw), "--out", str(tmp_path / "m2.npz")]) == 0
    assert "maf2, 2 functions, 2 requests" in capsys.readouterr().out
    llm = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    llm.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.5,3,4\n2023-11-16 18:00:01.0,5,6\n")
    assert main(["trace", "convert", "--llm", str(llm), "--out", str(tmp_path / "llm.npz"), "--slo", "2"]) == 0
    w = load_workload(tmp_path / "llm.npz")
    assert w.model_names == ("conv",) and list(w.size) == [3, 5] and list(w.output_size) == [4, 6]
    np.testing.assert_allclose(w.arrival_s, [0.0, 0.5])


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["trace", "info", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
