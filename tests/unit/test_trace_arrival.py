"""Arrival processes, rate splits and synthetic workloads."""
import numpy as np
import pytest

from alpa_serve_like.trace import arrival, rate_split
from alpa_serve_like.trace.arrival import ArrivalError
from alpa_serve_like.trace.synthetic import make_workload


def _cv(t):
    g = np.diff(t)
    return g.std() / g.mean()


@pytest.mark.parametrize("make, rate, cv", [
    (lambda rng: arrival.poisson(50, 400, rng, start_s=10.0), 50, 1.0),
    (lambda rng: arrival.gamma(50, 2.0, 400, rng, start_s=10.0), 50, 2.0),
    (lambda rng: arrival.gamma(50, 0.5, 400, rng, start_s=10.0), 50, 0.5),
    (lambda rng: arrival.lognormal(0.02, 0.8, 400, rng, start_s=10.0), 50, np.sqrt(np.exp(0.64) - 1)),
])
def test_renewal_processes_match_rate_and_cv(make, rate, cv):
    t = make(np.random.default_rng(3))
    assert t.dtype == np.float64 and np.all(np.diff(t) >= 0)
    assert t[0] >= 10.0 and t[-1] < 410.0
    assert len(t) / 400 == pytest.approx(rate, rel=0.06)
    assert _cv(t) == pytest.approx(cv, rel=0.08)


def test_deterministic_is_exact():
    np.testing.assert_allclose(arrival.deterministic(4, 1.0, None, start_s=2.0), [2.25, 2.5, 2.75])
    np.testing.assert_allclose(arrival.gamma(4, 0.0, 1.0, np.random.default_rng(0)), [0.25, 0.5, 0.75])


def test_same_seed_same_arrivals_and_zero_rate_is_empty():
    a = arrival.gamma(10, 3, 50, np.random.default_rng(7))
    b = arrival.gamma(10, 3, 50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert len(arrival.poisson(0.0, 100, np.random.default_rng(0))) == 0


def test_mmpp_two_state_mean_rate_and_burstiness():
    # stationary probabilities of a 2-state chain: pi_0 = s1 / (s0 + s1)
    rng = np.random.default_rng(5)
    t = arrival.mmpp([2.0, 40.0], [0.05, 0.2], 4000, rng)
    pi = arrival.mmpp_stationary([0.05, 0.2], 2)
    np.testing.assert_allclose(pi, [0.8, 0.2])
    assert len(t) / 4000 == pytest.approx(0.8 * 2 + 0.2 * 40, rel=0.15)
    assert _cv(t) > 1.5  # bursts make it far burstier than Poisson
    assert np.all(np.diff(t) >= 0)


@pytest.mark.parametrize("call, match", [
    (lambda r: arrival.poisson(-1, 10, r), "rate must be"),
    (lambda r: arrival.gamma(1, -0.5, 10, r), "cv must be"),
    (lambda r: arrival.gamma(1, 1, float("nan"), r), "duration_s"),
    (lambda r: arrival.lognormal(0, 1, 10, r), "mean_gap_s must be"),
    (lambda r: arrival.mmpp([1, 2], [1, 2, 3], 10, r), "3 switch rates for 2 states"),
    (lambda r: arrival.mmpp([1, -2], [1, 1], 10, r), "rates must be"),
])
def test_invalid_parameters_raise_clear_errors(call, match):
    with pytest.raises(ArrivalError, match=match):
        call(np.random.default_rng(0))


def test_rate_splits():
    np.testing.assert_allclose(rate_split.uniform(4), [0.25] * 4)
    p = rate_split.power_law(3, 1.0)
    np.testing.assert_allclose(p, np.array([1, 1 / 2, 1 / 3]) / (11 / 6))
    np.testing.assert_allclose(rate_split.explicit([1, 3]), [0.25, 0.75])
    with pytest.raises(rate_split.RateSplitError, match="weights"):
        rate_split.explicit([1, -1])
    with pytest.raises(rate_split.RateSplitError, match="unknown rate split"):
        rate_split.rate_fractions("zipf", 3)


def test_make_workload_rates_slo_and_meta():
    w = make_workload(["a", "b"], 100.0, 200.0, np.random.default_rng(11), slo_s={"a": 0.5, "b": 2.0},
                      process="gamma", cv=2.0, split="explicit", weights=[3, 1])
    counts = np.bincount(w.model_id, minlength=2)
    assert counts[0] / 200 == pytest.approx(75, rel=0.1) and counts[1] / 200 == pytest.approx(25, rel=0.15)
    np.testing.assert_array_equal(np.unique(w.slo_s[w.model_id == 1]), [2.0])
    assert w.meta["seed"] == 11 and w.meta["process"] == "gamma" and w.meta["span_s"] == 200.0
    assert w.meta["rates"] == pytest.approx([75.0, 25.0])
    # independent streams: model a's arrivals do not depend on model b's rate
    w2 = make_workload(["a", "b"], 125.0, 200.0, np.random.default_rng(11), slo_s=1.0, cv=2.0, split="explicit",
                       weights=[3, 2])
    assert np.sum(w2.model_id == 1) > 1.5 * counts[1]
    np.testing.assert_allclose(w.arrival_s[w.model_id == 0], w2.arrival_s[w2.model_id == 0], rtol=1e-12)


def test_make_workload_slo_array_and_processes():
    for process in ("poisson", "deterministic", "lognormal", "mmpp"):
        w = make_workload(["a", "b", "c"], 30.0, 50.0, np.random.default_rng(0), slo_s=np.array([1.0, 2.0, 3.0]),
                          process=process, split="power_law", alpha=0.5)
        assert len(w) > 500
        np.testing.assert_array_equal(w.slo_s, np.array([1.0, 2.0, 3.0])[w.model_id])
    with pytest.raises(ArrivalError, match="unknown arrival process"):
        make_workload(["a"], 1.0, 1.0, np.random.default_rng(0), process="hawkes")
