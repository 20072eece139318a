"""Exact replay keeps the trace's own requests, so the Gamma knobs (``rate_scale``, ``cv_scale``,
``fit_window_s``) cannot act there: asking for them is refused by name instead of being dropped
(``trace build --mode exact --rate-scale 2`` used to write the unscaled traffic without a word)."""
from __future__ import annotations

import numpy as np
import pytest

from alpa_serve_like.trace.azure_functions import replay
from alpa_serve_like.trace.function_trace import FunctionTrace, TraceWindow


def _maf1():
    # two functions, counts in minutes 0..3 of day 1
    return FunctionTrace("maf1", np.array(["f0", "f1"]), np.array([0, 1, 0, 1], np.int32),
                         minute=np.array([0, 0, 1, 3], np.int32), count=np.array([3, 1, 2, 5], np.int32))


def _maf2():
    return FunctionTrace("maf2", np.array(["a/f"]), np.zeros(4, np.int32),
                         arrival_s=np.array([1.0, 2.0, 30.0, 200.0]), duration_s=np.ones(4))


WINDOW = TraceWindow(0.0, 300.0)


@pytest.mark.parametrize("trace", [_maf1(), _maf2()], ids=["maf1", "maf2"])
@pytest.mark.parametrize("knob", [{"rate_scale": 2.0}, {"cv_scale": 1.5}, {"fit_window_s": 60.0}])
def test_gamma_knobs_are_refused_in_exact_mode(trace, knob):
    name = next(iter(knob))
    with pytest.raises(ValueError, match=f"{name} applies to mode='gamma'"):
        replay(trace, 1, WINDOW, mode="exact", rng=np.random.default_rng(0), **knob)


@pytest.mark.parametrize("trace", [_maf1(), _maf2()], ids=["maf1", "maf2"])
def test_exact_replay_with_default_knobs_keeps_every_request(trace):
    w = replay(trace, 1, WINDOW, mode="exact", rng=np.random.default_rng(0))
    assert len(w) == trace.total_requests()


def test_trace_build_exact_with_rate_scale_is_one_line(tmp_path, capsys):
    from alpa_serve_like.cli.main import main
    from alpa_serve_like.trace.function_trace import save_function_trace

    save_function_trace(_maf1(), tmp_path / "c.npz")
    argv = ["trace", "build", str(tmp_path / "c.npz"), "--models", "1", "--hours", "1", "--mode", "exact",
            "--out", str(tmp_path / "w.npz")]
    assert main(argv + ["--rate-scale", "2"]) == 2
    err = capsys.readouterr().err
    assert "--rate-scale" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "w.npz").exists()
    assert main(argv) == 0


@pytest.mark.parametrize("length", [{"hours": -1}, {"minutes": -5}, {"days": -1}])
def test_negative_window_length_is_refused_not_read_as_a_whole_day(length):
    with pytest.raises(ValueError, match="window length must be >= 0"):
        TraceWindow.of(1, **length)
    assert TraceWindow.of(1).length_s == 86400.0  # no length: a whole day


@pytest.mark.parametrize("trace", [_maf1(), _maf2()], ids=["maf1", "maf2"])
def test_window_after_the_trace_names_the_trace_span(trace):
    # it used to say "the window has only 0 functions with requests", as if the window were too short
    with pytest.raises(ValueError, match=r"starts after the end of the trace"):
        replay(trace, 1, TraceWindow.of(day=3), rng=np.random.default_rng(0))


def test_map_on_a_function_trace_cache_is_refused(tmp_path, capsys):
    # --map maps a workload's names (the LLM trace); a MAF cache maps functions with --mapping
    from alpa_serve_like.cli.main import main
    from alpa_serve_like.trace.function_trace import save_function_trace

    save_function_trace(_maf1(), tmp_path / "c.npz")
    assert main(["trace", "build", str(tmp_path / "c.npz"), "--models", "1", "--hours", "1", "--map", "popularity",
                 "--out", str(tmp_path / "w.npz")]) == 2
    assert "--map applies to a workload input" in capsys.readouterr().err
