"""Replay of observed traffic as per-window Gamma processes, with ``rate_scale`` and ``cv_scale`` knobs.

Each model's traffic is cut into consecutive fit windows; in each window a Gamma process is fitted
(``fit``) and a fresh stream is drawn from it with rate ``rate * rate_scale`` and gap CV
``cv * cv_scale``. Scaling the rate keeps the burst structure; scaling the CV keeps the load.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from alpa_serve_like.trace import arrival
from alpa_serve_like.trace.fit import GammaFit, fit_counts, fit_gaps


def _draw(fits: list[list[GammaFit]], edges_s: np.ndarray, rng: np.random.Generator, rate_scale: float,
          cv_scale: float) -> list[np.ndarray]:
    if rate_scale < 0 or cv_scale < 0:
        raise ValueError(f"rate_scale and cv_scale must be >= 0, got {rate_scale}, {cv_scale}")
    streams = []
    for model_fits, child in zip(fits, rng.spawn(len(fits))):
        parts = [arrival.gamma(f.rate * rate_scale, f.cv * cv_scale, edges_s[w + 1] - edges_s[w], child, edges_s[w])
                 for w, f in enumerate(model_fits)]
        streams.append(np.concatenate(parts) if parts else np.empty(0))
    return streams


def window_edges(length_s: float, fit_window_s: float) -> np.ndarray:
    """Edges ``0, w, 2w, ..., length_s`` of the fit windows (the last may be shorter)."""
    if fit_window_s <= 0:
        raise ValueError(f"fit_window_s must be > 0, got {fit_window_s}")
    return np.append(np.arange(0.0, length_s, fit_window_s), length_s)


def replay_from_arrivals(per_model_arrivals: list[np.ndarray], length_s: float, fit_window_s: float,
                         rng: np.random.Generator, rate_scale: float = 1.0, cv_scale: float = 1.0,
                         method: Literal["moments", "mle"] = "moments") -> tuple[list[np.ndarray], list[list[GammaFit]]]:
    """Fit on timestamps (relative to the window start, in ``[0, length_s)``) and redraw; returns
    (per-model arrival arrays, per-model list of fits per window)."""
    edges = window_edges(length_s, fit_window_s)
    fits = []
    for t in per_model_arrivals:
        cuts = np.searchsorted(t, edges, side="left")
        fits.append([fit_gaps(t[cuts[i]:cuts[i + 1]], edges[i + 1] - edges[i], method) for i in range(len(edges) - 1)])
    return _draw(fits, edges, rng, rate_scale, cv_scale), fits


def replay_from_counts(counts: np.ndarray, bin_s: float, bins_per_window: int, rng: np.random.Generator,
                       rate_scale: float = 1.0, cv_scale: float = 1.0) -> tuple[list[np.ndarray], list[list[GammaFit]]]:
    """Fit on per-bin counts ``(models, bins)`` (e.g. MAF1 minutes), ``bins_per_window`` bins per fit."""
    counts = np.asarray(counts)
    if bins_per_window < 1:
        raise ValueError(f"a fit window must hold at least one bin, got {bins_per_window}")
    n_bins = counts.shape[1]
    starts = np.arange(0, n_bins, bins_per_window)
    edges = np.append(starts, n_bins) * float(bin_s)
    fits = [[fit_counts(row[s:s + bins_per_window], bin_s) for s in starts] for row in counts]
    return _draw(fits, edges, rng, rate_scale, cv_scale), fits
