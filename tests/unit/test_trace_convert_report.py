"""``trace convert`` says what it changed besides skipping bad rows: MAF1 key rows repeated in a
day (their counts summed) and MAF2 requests that began before the trace's clock (kept, negative
arrival); both were stored in the cache's meta only, never shown."""
from __future__ import annotations

import pytest
from builders import write_maf1_day, write_maf2

from alpa_serve_like.cli.main import main


def test_maf1_summed_duplicates_are_reported(tmp_path, capsys):
    write_maf1_day(tmp_path, 1, [("o", "a", "f", "http", {1: 3}), ("o", "a", "f", "http", {1: 2, 5: 1}),
                                 ("o", "b", "g", "http", {2: 4})])
    assert main(["trace", "convert", "--maf1-dir", str(tmp_path), "--out", str(tmp_path / "c.npz")]) == 0
    out = capsys.readouterr().out
    assert "10 requests" in out and "1 (function, minute) count of repeated key rows summed" in out


def test_maf2_arrivals_before_the_trace_start_are_reported(tmp_path, capsys):
    path = write_maf2(tmp_path / "m.txt", [("a", "f", 1.0, 2.5), ("a", "f", 5.0, 1.0)])
    assert main(["trace", "convert", "--maf2", str(path), "--out", str(tmp_path / "c.npz")]) == 0
    assert "1 request began before the trace's clock (kept, negative arrival)" in capsys.readouterr().out


def test_nothing_extra_for_a_clean_trace(tmp_path, capsys):
    path = write_maf2(tmp_path / "m.txt", [("a", "f", 5.0, 1.0)])
    assert main(["trace", "convert", "--maf2", str(path), "--out", str(tmp_path / "c.npz")]) == 0
    assert "began before" not in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [("--slo-ms", "100"), ("--time-compression", "2"),
                                         ("--llm-models", "token_buckets"), ("--buckets", "8")])
def test_llm_flags_on_a_maf_convert_are_refused(tmp_path, capsys, flag, value):
    # a function-trace cache holds no SLOs, models or clock to compress: they were dropped silently
    path = write_maf2(tmp_path / "m.txt", [("a", "f", 5.0, 1.0)])
    assert main(["trace", "convert", "--maf2", str(path), flag, value, "--out", str(tmp_path / "c.npz")]) == 2
    assert f"{flag} applies to --llm" in capsys.readouterr().err and not (tmp_path / "c.npz").exists()


def test_days_on_an_llm_convert_is_refused(tmp_path, capsys):
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.5,374,44\n")
    assert main(["trace", "convert", "--llm", str(path), "--days", "1", "--out", str(tmp_path / "c.npz")]) == 2
    assert "--days applies to --maf1-dir" in capsys.readouterr().err


def test_buckets_without_token_buckets_is_refused(tmp_path, capsys):
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.5,374,44\n")
    assert main(["trace", "convert", "--llm", str(path), "--buckets", "8", "--out", str(tmp_path / "c.npz")]) == 2
    assert "--buckets applies to --llm-models token_buckets" in capsys.readouterr().err
