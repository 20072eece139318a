"""``demo``'s own options, refused before any work: a --trace-dir without the trace files ran on
the synthetic stand-in while saying "not found under ../shared/data; pass --trace-dir" (it was
passed), and --rate/--duration <= 0 were reported as "the trace is too short"."""
from __future__ import annotations

import pytest

from alpa_serve_like.cli.main import main


@pytest.mark.parametrize("extra, expected", [
    (["--trace-dir", "NOWHERE"], "--trace-dir NOWHERE does not hold AzureLLMInferenceTrace_conv.csv and "
                                 "AzureLLMInferenceTrace_code.csv"),
    (["--rate", "-1"], "--rate must be > 0 requests/s, got -1"),
    (["--duration", "0"], "--duration must be > 0 seconds, got 0"),
    (["--admission-quantile", "1"], "--admission-quantile must be in [0, 1)"),
])
def test_bad_demo_options_are_refused_first(tmp_path, capsys, extra, expected):
    out = tmp_path / "demo_out"
    assert main(["demo", "--no-live", "--no-cluster-scale", "--out", str(out), *extra]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "[demo" not in captured.out and not out.exists()


def test_spaces_in_the_lists_are_not_part_of_the_names(tmp_path, capsys):
    # "sr-greedy, mp-search" asked for an unknown policy ' mp-search'
    assert main(["demo", "--no-live", "--no-cluster-scale", "--out", str(tmp_path / "o"), "--policies",
                 "sr-greedy, mp-search", "--models", "bert-mini-0, bert-mini-1,bert-mini-2 ,bert-mini-3"]) == 0
    assert "unknown placement policy" not in capsys.readouterr().err
