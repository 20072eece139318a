"""Gamma fits (rate and CV) from timestamps and from per-bin counts, and per-window gamma replay."""
import numpy as np
import pytest

from alpa_serve_like.trace import arrival
from alpa_serve_like.trace.fit import fit_counts, fit_gaps, fit_windows_gaps
from alpa_serve_like.trace.gamma_replay import replay_from_arrivals, replay_from_counts


def test_fit_gaps_recovers_rate_20_cv_3():
    t = arrival.gamma(20.0, 3.0, 2000.0, np.random.default_rng(2024))
    f = fit_gaps(t, 2000.0)
    assert f.rate == pytest.approx(20.0, rel=0.10)
    assert f.cv == pytest.approx(3.0, rel=0.10)
    assert f.n == len(t)


def test_fit_gaps_mle_on_moderate_cv():
    t = arrival.gamma(5.0, 1.5, 1000.0, np.random.default_rng(1))
    f = fit_gaps(t, 1000.0, method="mle")
    assert f.cv == pytest.approx(1.5, rel=0.10)


def test_fit_counts_recovers_rate_and_cv_from_minute_counts():
    t = arrival.gamma(20.0, 3.0, 30000.0, np.random.default_rng(7))
    counts = np.bincount((t // 60).astype(int), minlength=500)[:500]
    f = fit_counts(counts, 60.0)
    assert f.rate == pytest.approx(20.0, rel=0.10)
    assert f.cv == pytest.approx(3.0, rel=0.10)


def test_fit_counts_hand_values():
    # counts 0, 2, 4: mean 2, sample variance 4 -> cv = sqrt(4 / 2)
    f = fit_counts(np.array([0, 2, 4]), 10.0)
    assert f.rate == pytest.approx(0.2) and f.cv == pytest.approx(np.sqrt(2.0)) and f.n == 6
    assert fit_counts(np.array([3, 3, 3]), 1.0).cv == 0.0
    assert fit_counts(np.zeros(4), 1.0).rate == 0.0


def test_fit_windows_follow_a_rate_change():
    rng = np.random.default_rng(3)
    t = np.concatenate([arrival.gamma(5, 1, 500, rng), arrival.gamma(50, 1, 500, rng, start_s=500)])
    fits = fit_windows_gaps(t, 0.0, 1000.0, 500.0)
    assert [round(f.rate) for f in fits] == pytest.approx([5, 50], rel=0.15)


def test_replay_scales_rate_and_cv():
    rng = np.random.default_rng(9)
    src = [arrival.gamma(10, 2.0, 3000, rng), arrival.gamma(2, 1.0, 3000, rng)]
    streams, fits = replay_from_arrivals(src, 3000.0, 1000.0, np.random.default_rng(1), rate_scale=2.0, cv_scale=0.5)
    assert len(fits) == 2 and len(fits[0]) == 3
    assert len(streams[0]) / 3000 == pytest.approx(20, rel=0.1)
    g = np.diff(streams[0])
    assert g.std() / g.mean() == pytest.approx(1.0, rel=0.15)
    assert streams[0].max() < 3000 and np.all(np.diff(streams[0]) >= 0)


def test_replay_from_counts_windows():
    counts = np.array([[60] * 10 + [600] * 10])  # 1/s for 10 min, then 10/s
    streams, fits = replay_from_counts(counts, 60.0, 10, np.random.default_rng(0))
    assert [f.rate for f in fits[0]] == pytest.approx([1.0, 10.0])
    assert [f.cv for f in fits[0]] == [0.0, 0.0]  # constant counts -> deterministic
    assert np.sum(streams[0] < 600) == pytest.approx(600, abs=1) and len(streams[0]) == pytest.approx(6600, abs=2)
