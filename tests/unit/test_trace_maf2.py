"""MAF2 (Azure Functions 2021, timestamps): parsing, errors, cache and replay."""
import numpy as np
import pytest
from builders import write_maf2

from alpa_serve_like.trace import arrival
from alpa_serve_like.trace.azure_functions import TraceWindow, convert_maf2, load_function_trace, read_maf2, replay
from alpa_serve_like.trace.csv_reader import TraceFormatError

ROWS = [
    ("appA", "f1", 10.5, 0.5),   # arrival 10.0
    ("appB", "f1", 5.0, 1.0),    # arrival 4.0; same func name, different app -> different function
    ("appA", "f1", 30.0, 2.0),   # arrival 28.0
    ("appA", "f2", 100.25, 0.25),  # arrival 100.0
]


def test_parse_arrivals_and_app_scoped_functions(tmp_path):
    t = read_maf2(write_maf2(tmp_path / "inv.txt", ROWS))
    assert t.kind == "maf2"
    np.testing.assert_allclose(t.arrival_s, [4.0, 10.0, 28.0, 100.0])
    assert [str(t.function_keys[f]) for f in t.function] == ["appB/f1", "appA/f1", "appA/f1", "appA/f2"]
    np.testing.assert_allclose(t.duration_s, [1.0, 0.5, 2.0, 0.25])
    assert t.num_functions == 3 and t.meta["bad_rows"] == 0


@pytest.mark.parametrize("row, match", [
    ("appA,f1,12.0", r"inv\.txt line 3: expected 4 columns, found 3"),
    ("appA,f1,abc,1.0", r"inv\.txt line 3: column 'end_timestamp' expected a number, found 'abc'"),
    ("appA,f1,12.0,", r"line 3: column 'duration' expected a number, found ''"),
    ("appA,f1,12.0,-1.5", r"line 3: expected a duration >= 0 s, found -1.5"),
    (",f1,12.0,1.0", r"line 3: expected non-empty app and func"),
])
def test_malformed_rows_name_file_and_line(tmp_path, row, match):
    path = write_maf2(tmp_path / "inv.txt", [ROWS[0], row, ROWS[1]])
    with pytest.raises(TraceFormatError, match=match):
        read_maf2(path)


def test_skip_bad_rows_and_header_check(tmp_path):
    path = write_maf2(tmp_path / "inv.txt", [ROWS[0], "appA,f1,abc,1.0", "x,y", ROWS[1]])
    t = read_maf2(path, skip_bad_rows=True)
    assert t.meta["bad_rows"] == 2 and len(t.arrival_s) == 2
    path.write_text("app,func,end,duration\n" + "a,b,1,0\n")
    with pytest.raises(TraceFormatError, match="header column 3 should be 'end_timestamp', found 'end'"):
        read_maf2(path)


def test_cache_roundtrip_and_exact_replay(tmp_path):
    path, _ = convert_maf2(write_maf2(tmp_path / "inv.txt", ROWS), tmp_path / "maf2.npz")
    t = load_function_trace(path)
    w = replay(t, ["x", "y"], TraceWindow(5.0, 200.0), mode="exact", time_compression=2.0, slo_s={"x": 1, "y": 2})
    # window drops the 4.0 arrival; appA/f1 (2 requests) is busiest -> model x; appA/f2 -> y
    np.testing.assert_allclose(w.arrival_s, [2.5, 11.5, 47.5])
    assert [w.model_names[i] for i in w.model_id] == ["x", "x", "y"]
    np.testing.assert_array_equal(w.slo_s, [1, 1, 2])
    assert w.meta["span_s"] == pytest.approx(97.5)


def test_gamma_replay_refits_timestamps(tmp_path):
    rng = np.random.default_rng(0)
    busy = arrival.gamma(8.0, 3.0, 1200.0, rng)
    calm = arrival.poisson(1.0, 1200.0, rng)
    rows = [("app", "busy", float(t) + 0.1, 0.1) for t in busy] + [("app", "calm", float(t) + 0.2, 0.2) for t in calm]
    t = read_maf2(write_maf2(tmp_path / "inv.txt", rows))
    w = replay(t, 2, TraceWindow(0.0, 1200.0), mode="gamma", rng=np.random.default_rng(1), fit_window_s=600.0,
               cv_scale=0.5)
    fits = np.array(w.meta["fits"])  # (models, windows, [rate, cv])
    assert fits.shape == (2, 2, 2)
    assert fits[0, :, 0] == pytest.approx([8.0, 8.0], rel=0.15)
    assert fits[0, :, 1] == pytest.approx([3.0, 3.0], rel=0.25)
    assert fits[1, :, 1] == pytest.approx([1.0, 1.0], rel=0.15)
    g = np.diff(w.arrival_s[w.model_id == 0])
    assert g.std() / g.mean() == pytest.approx(1.5, rel=0.2)
