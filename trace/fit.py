"""Fitting Gamma arrival processes (rate and gap CV) to observed traffic, window by window.

Two estimators, for the two kinds of data real traces give:

- ``fit_gaps`` (timestamps): rate = requests / window length; CV by the method of moments on the
  gaps between consecutive arrivals inside the window (std / mean). ``method="mle"`` instead fits
  a Gamma shape ``k`` by maximum likelihood (scipy.stats.gamma.fit, location 0) and reports
  ``cv = 1/sqrt(k)``; it needs strictly positive gaps and is slower.
- ``fit_counts`` (per-bin counts, e.g. MAF1's per-minute invocations): rate = mean count / bin
  length; CV from the index of dispersion of the counts, ``cv = sqrt(var(count) / mean(count))``.
  For a stationary renewal process the count in a bin of length T has variance close to
  ``rate * T * cv**2`` when T spans many gaps (renewal central limit theorem), so the ratio
  estimates ``cv**2``. Rate changes between bins inside the window also raise the dispersion;
  that burstiness is exactly what replay should reproduce, so it is kept rather than detrended.

Windows with fewer than two requests (gaps) or one bin give ``cv = 1`` (Poisson) as a neutral
default; a window with no request has rate 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class GammaFit:
    """Fitted rate (requests/s) and gap CV of one model in one window."""

    rate: float
    cv: float
    n: int  # requests observed in the window


def fit_gaps(arrival_s: np.ndarray, window_s: float, method: Literal["moments", "mle"] = "moments") -> GammaFit:
    """Fit from sorted arrival times that fall in one window of length ``window_s``."""
    t = np.asarray(arrival_s, dtype=np.float64)
    if window_s <= 0:
        raise ValueError(f"fit window must be > 0 s, got {window_s}")
    n = len(t)
    rate = n / window_s
    if n < 3:
        return GammaFit(rate, 1.0, n)
    gaps = np.diff(t)
    if method == "moments":
        mean = gaps.mean()
        cv = float(gaps.std(ddof=1) / mean) if mean > 0 else 0.0
    elif method == "mle":
        from scipy import stats

        positive = gaps[gaps > 0]
        if len(positive) < 2:
            return GammaFit(rate, 0.0, n)
        shape, _, _ = stats.gamma.fit(positive, floc=0)
        cv = float(1.0 / np.sqrt(shape))
    else:
        raise ValueError(f"unknown fit method {method!r} (known: moments, mle)")
    return GammaFit(rate, cv, n)


def fit_counts(counts: np.ndarray, bin_s: float) -> GammaFit:
    """Fit from the request counts of consecutive bins of ``bin_s`` seconds (see module doc)."""
    c = np.asarray(counts, dtype=np.float64)
    if bin_s <= 0:
        raise ValueError(f"bin length must be > 0 s, got {bin_s}")
    if len(c) == 0:
        raise ValueError("fit_counts needs at least one bin")
    total = int(c.sum())
    mean = c.mean()
    rate = float(mean / bin_s)
    if mean == 0 or len(c) < 2:
        return GammaFit(rate, 1.0, total)
    return GammaFit(rate, float(np.sqrt(c.var(ddof=1) / mean)), total)


def fit_windows_gaps(arrival_s: np.ndarray, start_s: float, end_s: float, window_s: float,
                     method: Literal["moments", "mle"] = "moments") -> list[GammaFit]:
    """``fit_gaps`` on consecutive windows of ``window_s`` covering ``[start_s, end_s)`` (last may be shorter)."""
    edges = _edges(start_s, end_s, window_s)
    cuts = np.searchsorted(arrival_s, edges, side="left")
    return [fit_gaps(arrival_s[cuts[i]:cuts[i + 1]], edges[i + 1] - edges[i], method) for i in range(len(edges) - 1)]


def _edges(start_s: float, end_s: float, window_s: float) -> np.ndarray:
    if not end_s > start_s:
        raise ValueError(f"fit range end ({end_s}) must be after its start ({start_s})")
    if window_s <= 0:
        raise ValueError(f"fit window must be > 0 s, got {window_s}")
    edges = np.arange(start_s, end_s, window_s, dtype=np.float64)
    return np.append(edges, end_s)
