"""MAF1 (Azure Functions 2019, per-minute counts): parsing, errors, cache, mapping and replay."""
import numpy as np
import pytest
from builders import write_maf1_day

from alpa_serve_like.trace.azure_functions import (TraceWindow, convert_maf1, load_function_trace,
                                                   map_functions, read_maf1, replay)
from alpa_serve_like.trace.csv_reader import TraceFormatError

ROWS_D1 = [
    ("o1", "a1", "f1", "http", {1: 5, 2: 3, 1440: 7}),
    ("o1", "a1", "f2", "timer", {1: 1}),
    ("o2", "a2", "f3", "queue", {3: 2}),
]
ROWS_D2 = [
    ("o1", "a1", "f1", "http", {1: 4}),
    ("o3", "a3", "f4", "event", {10: 9}),
]


@pytest.fixture
def maf1_dir(tmp_path):
    write_maf1_day(tmp_path, 1, ROWS_D1)
    write_maf1_day(tmp_path, 2, ROWS_D2)
    return tmp_path


def _counts(t):
    return {(str(t.function_keys[f]), int(m)): int(c) for f, m, c in zip(t.function, t.minute, t.count)}


def test_parse_keeps_every_nonzero_count(maf1_dir):
    t = read_maf1(maf1_dir)
    assert t.kind == "maf1" and t.num_functions == 4 and t.meta["days"] == [1, 2]
    assert _counts(t) == {
        ("o1/a1/f1/http", 0): 5, ("o1/a1/f1/http", 1): 3, ("o1/a1/f1/http", 1439): 7,
        ("o1/a1/f2/timer", 0): 1, ("o2/a2/f3/queue", 2): 2,
        ("o1/a1/f1/http", 1440): 4, ("o3/a3/f4/event", 1449): 9,
    }
    assert np.all(np.diff(t.minute) >= 0)
    assert t.total_requests() == 31 and t.meta["bad_rows"] == 0


def test_small_blocks_give_the_same_result(maf1_dir):
    a, b = read_maf1(maf1_dir), read_maf1(maf1_dir, block_bytes=6000)
    assert _counts(a) == _counts(b)


def test_day_selection_and_missing_day(maf1_dir):
    t = read_maf1(maf1_dir, days=[2])
    assert t.total_requests() == 13
    with pytest.raises(FileNotFoundError, match="d05.csv"):
        read_maf1(maf1_dir, days=[1, 5])


def test_short_row_names_file_line_and_columns(tmp_path):
    write_maf1_day(tmp_path, 1, ROWS_D1[:2] + ["o9,a9,f9"])
    with pytest.raises(TraceFormatError,
                       match=r"invocations_per_function_md\.anon\.d01\.csv line 4: expected 1444 columns, found 3"):
        read_maf1(tmp_path)


def test_bad_count_and_negative_count(tmp_path):
    cells = ["0"] * 1440
    cells[4] = "x7"
    write_maf1_day(tmp_path, 1, [ROWS_D1[0], ",".join(["o", "a", "f", "http"] + cells)])
    with pytest.raises(TraceFormatError, match=r"d01\.csv line 3: column '5' expected an integer, found 'x7'"):
        read_maf1(tmp_path)
    cells[4] = "-2"
    write_maf1_day(tmp_path, 1, [",".join(["o", "a", "f", "http"] + cells)])
    with pytest.raises(TraceFormatError, match=r"line 2: expected non-negative invocation counts, found -2 in column '5'"):
        read_maf1(tmp_path)


def test_bad_header(tmp_path):
    path = write_maf1_day(tmp_path, 1, ROWS_D1)
    path.write_text(path.read_text().replace("HashApp", "App", 1))
    with pytest.raises(TraceFormatError, match="line 1: header column 2 should be 'HashApp', found 'App'"):
        read_maf1(tmp_path)


def test_skip_bad_rows_counts_them(tmp_path):
    write_maf1_day(tmp_path, 1, ROWS_D1 + ["o9,a9,f9", "only-one"])
    t = read_maf1(tmp_path, skip_bad_rows=True)
    assert t.meta["bad_rows"] == 2 and t.total_requests() == 18
    assert "line 5: expected 1444 columns, found 3" in t.meta["bad_row_examples"][0]


def test_duplicate_key_rows_are_summed_and_reported(tmp_path):
    write_maf1_day(tmp_path, 1, [ROWS_D1[1], ("o1", "a1", "f2", "timer", {1: 2, 2: 1})])
    t = read_maf1(tmp_path)
    assert _counts(t) == {("o1/a1/f2/timer", 0): 3, ("o1/a1/f2/timer", 1): 1}
    assert t.meta["duplicate_entries_summed"] == 1


def test_cache_roundtrip(maf1_dir, tmp_path):
    path, t = convert_maf1(maf1_dir, tmp_path / "cache" / "maf1")
    r = load_function_trace(path)
    assert r.kind == "maf1" and _counts(r) == _counts(t) and r.meta["days"] == [1, 2]


def test_window_totals_and_mapping(maf1_dir):
    t = read_maf1(maf1_dir)
    day1 = TraceWindow.of(day=1)
    assert (day1.start_s, day1.end_s) == (0.0, 86400.0)
    totals = t.function_totals(day1)
    keys = list(t.function_keys)
    assert totals[keys.index("o1/a1/f1/http")] == 15 and totals[keys.index("o3/a3/f4/event")] == 0
    # ranks by day-1 requests: f1 (15), f3 (2), f2 (1); f4 idle
    striped = map_functions(totals, 2, "striped")
    contiguous = map_functions(totals, 2, "contiguous")
    by_key = lambda m: {keys[i]: int(m[i]) for i in range(len(keys))}
    assert by_key(striped) == {"o1/a1/f1/http": 0, "o2/a2/f3/queue": 1, "o1/a1/f2/timer": 0, "o3/a3/f4/event": -1}
    assert by_key(contiguous) == {"o1/a1/f1/http": 0, "o2/a2/f3/queue": 0, "o1/a1/f2/timer": 1, "o3/a3/f4/event": -1}
    top = map_functions(totals, 2, "striped", top_n=2)
    assert by_key(top)["o1/a1/f2/timer"] == -1
    with pytest.raises(ValueError, match="only 3 functions with requests, fewer than the 4 models"):
        map_functions(totals, 4)


def test_exact_replay_spreads_minutes(maf1_dir):
    t = read_maf1(maf1_dir)
    w = replay(t, ["a", "b"], TraceWindow.of(day=1, minutes=3), mode="exact", spread="even", slo_s=0.5)
    # window minutes 0..2: model a = f1 (5, 3) + f2 (1) ; model b = f3 (2 in minute 2)
    a = w.arrival_s[w.model_id == 0]
    np.testing.assert_allclose(a, sorted([60 * (k + 0.5) / 6 for k in range(6)] + [60 + 60 * (k + 0.5) / 3 for k in range(3)]))
    np.testing.assert_allclose(w.arrival_s[w.model_id == 1], [120 + 15, 120 + 45])
    assert np.all(w.slo_s == 0.5) and w.meta["span_s"] == 180.0
    u = replay(t, ["a", "b"], TraceWindow.of(day=1, minutes=3), mode="exact", rng=np.random.default_rng(0),
               time_compression=2.0)
    assert len(u) == 11 and np.all(u.arrival_s < 90.0)
    assert np.sum(u.model_id == 0) == 9 and np.all(np.floor(u.arrival_s[u.model_id == 1] / 30) == 2)
    with pytest.raises(ValueError, match="whole minutes"):
        replay(t, 2, TraceWindow(0.0, 90.0), mode="exact", rng=np.random.default_rng(0))


def test_gamma_replay_fits_per_window_and_scales_rate(tmp_path):
    rng = np.random.default_rng(4)
    busy = {m: int(c) for m, c in enumerate(rng.poisson(600, 120), start=1)}  # ~10/s for 2 h
    calm = {m: 60 for m in range(1, 121)}  # exactly 1/s, CV 0
    write_maf1_day(tmp_path, 1, [("o", "a", "busy", "http", busy), ("o", "a", "calm", "timer", calm)])
    t = read_maf1(tmp_path)
    w = replay(t, ["m0", "m1"], TraceWindow.of(day=1, hours=2), mode="gamma", rng=np.random.default_rng(1),
               fit_window_s=3600.0, rate_scale=2.0)
    fits = w.meta["fits"]
    assert len(fits) == 2 and len(fits[0]) == 2
    assert fits[0][0][0] == pytest.approx(10.0, rel=0.02)
    assert fits[1][0] == [1.0, 0.0]
    assert np.sum(w.model_id == 1) == pytest.approx(2 * 7200, abs=2)
    assert np.sum(w.model_id == 0) / 7200 == pytest.approx(20.0, rel=0.05)
    with pytest.raises(ValueError, match="rng"):
        replay(t, 2, TraceWindow.of(day=1, hours=2), mode="gamma")
