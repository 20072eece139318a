"""How a total request rate is shared among models: arrays of fractions that sum to 1.

``SPLITS`` maps a split name to a function ``(n, alpha=..., weights=...) -> fractions``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


class RateSplitError(ValueError):
    """Invalid parameters of a rate split."""


def _check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise RateSplitError(f"number of models must be an integer >= 1, got {n}")
    return int(n)


def uniform(n: int) -> np.ndarray:
    """Every model gets ``1/n`` of the rate."""
    n = _check_n(n)
    return np.full(n, 1.0 / n)


def power_law(n: int, alpha: float) -> np.ndarray:
    """Model ``i`` gets a share proportional to ``(i + 1) ** -alpha`` (alpha 0 is uniform)."""
    n = _check_n(n)
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0:
        raise RateSplitError(f"power_law alpha must be a finite number >= 0, got {alpha}")
    w = np.arange(1, n + 1, dtype=np.float64) ** -alpha
    return w / w.sum()


def explicit(weights: Sequence[float]) -> np.ndarray:
    """Shares proportional to the given non-negative weights (normalised to sum 1)."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise RateSplitError(f"explicit rate split needs finite weights >= 0 with a positive sum, got {w.tolist()}")
    return w / w.sum()


SPLITS: dict[str, Callable[..., np.ndarray]] = {
    "uniform": lambda n, alpha=None, weights=None: uniform(n),
    "power_law": lambda n, alpha=1.0, weights=None: power_law(n, alpha),
    "explicit": lambda n, alpha=None, weights=None: _explicit_n(n, weights),
}


def _explicit_n(n: int, weights) -> np.ndarray:
    if weights is None:
        raise RateSplitError("split 'explicit' needs weights (one per model)")
    w = explicit(weights)
    if len(w) != n:
        raise RateSplitError(f"split 'explicit': {len(w)} weights for {n} models; give one per model")
    return w


def rate_fractions(split: str, n: int, alpha: float = 1.0, weights: Sequence[float] | None = None) -> np.ndarray:
    """Fractions of the named split for ``n`` models."""
    if split not in SPLITS:
        raise RateSplitError(f"unknown rate split {split!r} (known: {', '.join(SPLITS)})")
    return SPLITS[split](n, alpha=alpha, weights=weights)
