"""Arrival processes: functions that draw sorted arrival times on ``[start_s, start_s + duration_s)``.

Every process takes its parameters, then ``duration_s``, an explicit ``numpy.random.Generator`` and
``start_s``; it returns a sorted float64 array. Renewal processes (Poisson, Gamma, lognormal,
deterministic) start with a full gap after ``start_s`` (as if a request had just arrived at
``start_s``, which is not counted). ``PROCESSES`` maps a process name to its function.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np


class ArrivalError(ValueError):
    """Invalid parameters of an arrival process."""


def _check(name: str, value: float, *, positive: bool = False, what: str = "") -> float:
    value = float(value)
    bad = not math.isfinite(value) or value < 0 or (positive and value == 0)
    if bad:
        need = "> 0" if positive else ">= 0"
        raise ArrivalError(f"{name} must be a finite number {need}{what}, got {value}")
    return value


def _renewal(draw_gaps: Callable[[int], np.ndarray], mean_gap_s: float, duration_s: float,
             start_s: float) -> np.ndarray:
    """Cumulate gaps drawn in chunks until they pass the end; chunks are sized from the expected
    count so a typical call draws once."""
    expected = duration_s / mean_gap_s
    chunk = int(expected + 6 * math.sqrt(expected) + 16)
    pieces, t = [], 0.0
    while t < duration_s:
        times = t + np.cumsum(draw_gaps(chunk))
        pieces.append(times)
        t = float(times[-1])
    times = np.concatenate(pieces) if pieces else np.empty(0)
    return start_s + times[: np.searchsorted(times, duration_s, side="left")]


def _common(duration_s: float, start_s: float) -> tuple[float, float]:
    duration_s = _check("duration_s", duration_s)
    start_s = float(start_s)
    if not math.isfinite(start_s):
        raise ArrivalError(f"start_s must be finite, got {start_s}")
    return duration_s, start_s


def poisson(rate: float, duration_s: float, rng: np.random.Generator, start_s: float = 0.0) -> np.ndarray:
    """Poisson process of ``rate`` requests/s (exponential gaps, CV 1)."""
    rate = _check("rate", rate, what=" requests/s")
    duration_s, start_s = _common(duration_s, start_s)
    if rate == 0 or duration_s == 0:
        return np.empty(0)
    return _renewal(lambda n: rng.exponential(1.0 / rate, n), 1.0 / rate, duration_s, start_s)


def gamma(rate: float, cv: float, duration_s: float, rng: np.random.Generator, start_s: float = 0.0) -> np.ndarray:
    """Gamma renewal process: mean gap ``1/rate``, gap coefficient of variation ``cv``.

    Shape ``1/cv**2``, scale ``cv**2/rate``. ``cv == 1`` is Poisson; ``cv == 0`` is deterministic.
    """
    rate = _check("rate", rate, what=" requests/s")
    cv = _check("cv", cv, what=" (coefficient of variation of the gaps)")
    duration_s, start_s = _common(duration_s, start_s)
    if rate == 0 or duration_s == 0:
        return np.empty(0)
    if cv == 0:
        return deterministic(rate, duration_s, rng, start_s)
    shape, scale = 1.0 / cv**2, cv**2 / rate
    return _renewal(lambda n: rng.gamma(shape, scale, n), 1.0 / rate, duration_s, start_s)


def deterministic(rate: float, duration_s: float, rng: np.random.Generator | None = None,
                  start_s: float = 0.0) -> np.ndarray:
    """One request every ``1/rate`` seconds, the first at ``start_s + 1/rate``; ``rng`` is unused."""
    rate = _check("rate", rate, what=" requests/s")
    duration_s, start_s = _common(duration_s, start_s)
    if rate == 0 or duration_s == 0:
        return np.empty(0)
    times = np.arange(1, int(math.ceil(duration_s * rate)) + 2, dtype=np.float64) / rate
    return start_s + times[times < duration_s]


def lognormal(mean_gap_s: float, sigma: float, duration_s: float, rng: np.random.Generator,
              start_s: float = 0.0) -> np.ndarray:
    """Renewal process with lognormal gaps of mean ``mean_gap_s`` and log-space std ``sigma``.

    The gap CV is ``sqrt(exp(sigma**2) - 1)``; ``mu = ln(mean_gap_s) - sigma**2 / 2`` keeps the mean.
    """
    mean_gap_s = _check("mean_gap_s", mean_gap_s, positive=True, what=" seconds")
    sigma = _check("sigma", sigma)
    duration_s, start_s = _common(duration_s, start_s)
    if duration_s == 0:
        return np.empty(0)
    mu = math.log(mean_gap_s) - sigma**2 / 2
    return _renewal(lambda n: rng.lognormal(mu, sigma, n), mean_gap_s, duration_s, start_s)


def _generator_matrix(switch_rates, k: int) -> np.ndarray:
    q = np.asarray(switch_rates, dtype=np.float64)
    if q.ndim == 1:
        if len(q) != k:
            raise ArrivalError(f"mmpp: {len(q)} switch rates for {k} states; give one per state or a {k}x{k} matrix")
        if k == 1:
            q = np.zeros((1, 1))
        else:  # leave state i at rate q[i], to any other state with equal probability
            q = np.repeat(q[:, None] / (k - 1), k, axis=1)
    if q.shape != (k, k):
        raise ArrivalError(f"mmpp: switch_rates must have {k} entries or shape ({k}, {k}), got shape {q.shape}")
    np.fill_diagonal(q, 0.0)
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ArrivalError(f"mmpp: switch rates must be finite and >= 0, got {q.tolist()}")
    return q


def mmpp_stationary(switch_rates, k: int) -> np.ndarray:
    """Stationary state probabilities of the modulating chain (uniform if it is reducible)."""
    q = _generator_matrix(switch_rates, k)
    gen = q - np.diag(q.sum(axis=1))
    a = np.vstack([gen.T, np.ones(k)])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum() if pi.sum() > 0 else np.full(k, 1.0 / k)


def mmpp(rates: Sequence[float], switch_rates, duration_s: float, rng: np.random.Generator,
         start_s: float = 0.0, initial_state: int | None = None) -> np.ndarray:
    """Markov-modulated Poisson process.

    A hidden continuous-time Markov chain has one state per entry of ``rates`` (requests/s while in
    that state). ``switch_rates`` is either one leave-rate per state (1/s; the next state is drawn
    uniformly among the others) or a full matrix of transition rates ``Q[i, j]`` (diagonal ignored).
    The chain starts in ``initial_state``, or in a state drawn from its stationary distribution.
    Mean rate is ``sum(pi * rates)``.
    """
    r = np.asarray(rates, dtype=np.float64).ravel()
    if len(r) == 0 or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ArrivalError(f"mmpp: rates must be a non-empty list of finite numbers >= 0, got {list(r)}")
    k = len(r)
    q = _generator_matrix(switch_rates, k)
    duration_s, start_s = _common(duration_s, start_s)
    leave = q.sum(axis=1)
    if initial_state is None:
        state = int(rng.choice(k, p=mmpp_stationary(q, k)))
    elif not 0 <= initial_state < k:
        raise ArrivalError(f"mmpp: initial_state must be in [0, {k}), got {initial_state}")
    else:
        state = int(initial_state)
    pieces, t = [], 0.0
    while t < duration_s:
        stay = rng.exponential(1.0 / leave[state]) if leave[state] > 0 else math.inf
        end = min(t + stay, duration_s)
        n = rng.poisson(r[state] * (end - t)) if r[state] > 0 else 0
        if n:
            pieces.append(np.sort(rng.uniform(t, end, n)))
        t = end
        if leave[state] > 0:
            state = int(rng.choice(k, p=q[state] / leave[state]))
    times = np.concatenate(pieces) if pieces else np.empty(0)
    return start_s + times


# name -> function; synthetic.make_workload picks from here.
PROCESSES: dict[str, Callable[..., np.ndarray]] = {
    "poisson": poisson,
    "gamma": gamma,
    "deterministic": deterministic,
    "lognormal": lognormal,
    "mmpp": mmpp,
}
