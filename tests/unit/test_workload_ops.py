"""Workload operations: merge, slice, train/test split, SLO rewrite, and .npz save/load."""
import numpy as np
import pytest

from alpa_serve_like.core.workload import (Workload, WorkloadError, merge_workloads, slice_time,
                                            split_train_test, with_slo)
from alpa_serve_like.trace.workload_io import load_workload, save_workload


def _w(times, ids, names, slo=1.0, size=None, span=None):
    meta = {"name": "t"} if span is None else {"name": "t", "span_s": span}
    return Workload(np.asarray(times, float), np.asarray(ids), np.full(len(times), slo), names, size, meta)


def test_merge_unions_names_remaps_ids_and_sorts_stably():
    a = _w([0.0, 1.0, 2.0], [0, 1, 0], ("x", "y"), slo=1.0, span=3.0)
    b = _w([1.0, 1.5], [0, 1], ("z", "x"), slo=2.0, size=[7, 8], span=5.0)
    m = merge_workloads(a, b)
    assert m.model_names == ("x", "y", "z")
    np.testing.assert_array_equal(m.arrival_s, [0.0, 1.0, 1.0, 1.5, 2.0])
    # tie at t=1: a's request (y) first, then b's (z)
    assert [m.model_names[i] for i in m.model_id] == ["x", "y", "z", "x", "x"]
    np.testing.assert_array_equal(m.slo_s, [1, 1, 2, 2, 1])
    np.testing.assert_array_equal(m.size, [1, 1, 7, 8, 1])
    assert m.span_s == 5.0


def test_slice_time_half_open_and_rebased():
    w = _w([0.0, 1.0, 2.0, 3.0], [0, 0, 0, 0], ("m",), span=4.0)
    s = slice_time(w, 1.0, 3.0)
    np.testing.assert_array_equal(s.arrival_s, [0.0, 1.0])
    assert s.meta["span_s"] == 2.0 and s.meta["window_s"] == [1.0, 3.0]
    np.testing.assert_array_equal(w.slice_time(1.0, 3.0, rebase=False).arrival_s, [1.0, 2.0])
    with pytest.raises(WorkloadError, match="end_s"):
        slice_time(w, 2.0, 2.0)


def test_split_train_test_by_time_over_span():
    w = _w([0.5, 3.0, 6.0, 9.9], [0, 0, 0, 0], ("m",), span=10.0)
    train, test = split_train_test(w, 0.6)
    np.testing.assert_array_equal(train.arrival_s, [0.5, 3.0])
    np.testing.assert_allclose(test.arrival_s, [0.0, 3.9])
    assert train.meta["span_s"] == 6.0 and test.meta["span_s"] == pytest.approx(4.0)
    assert len(train) + len(test) == len(w)
    with pytest.raises(WorkloadError, match="train_fraction"):
        split_train_test(w, 1.0)


def test_with_slo_float_dict_and_sequence():
    w = _w([0.0, 1.0, 2.0], [0, 1, 0], ("a", "b"), slo=5.0)
    np.testing.assert_array_equal(with_slo(w, 0.25).slo_s, [0.25] * 3)
    np.testing.assert_array_equal(with_slo(w, {"b": 2.0}).slo_s, [5.0, 2.0, 5.0])
    np.testing.assert_array_equal(w.with_slo([1.0, 3.0]).slo_s, [1.0, 3.0, 1.0])
    with pytest.raises(WorkloadError, match="unknown models"):
        with_slo(w, {"c": 1.0})
    with pytest.raises(WorkloadError, match="positive"):
        with_slo(w, -1.0)


def test_save_load_roundtrip_keeps_every_field(tmp_path):
    w = Workload(np.array([0.0, 0.5]), np.array([1, 0]), np.array([0.1, 0.2]), ("a", "b"),
                 np.array([3, 4]), {"name": "rt", "span_s": 1.0, "nested": {"k": [1, 2]}}, np.array([9, 8]))
    path = save_workload(w, tmp_path / "w")
    assert path.suffix == ".npz"
    r = load_workload(path)
    for f in ("arrival_s", "model_id", "slo_s", "size", "output_size"):
        np.testing.assert_array_equal(getattr(r, f), getattr(w, f))
        assert getattr(r, f).dtype == getattr(w, f).dtype
    assert r.model_names == ("a", "b") and r.meta["nested"] == {"k": [1, 2]} and r.meta["path"] == str(path)


def test_load_rejects_other_npz(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.arange(3))
    with pytest.raises(WorkloadError, match="not a workload file"):
        load_workload(tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match="trace generate"):
        load_workload(tmp_path / "missing.npz")


def test_workload_rejects_duplicate_names():
    with pytest.raises(WorkloadError, match="unique"):
        _w([0.0], [0], ("a", "a"))
