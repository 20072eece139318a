"""Paella's open-loop workload: lognormal inter-arrival times, each job's model drawn by share."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np


def lognormal_jobs(rng: np.random.Generator, rate_rps: float, sigma: float, shares: Mapping[str, float],
                   num_jobs: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Arrival times (first at 0) and models of ``num_jobs`` jobs.

    Gaps are lognormal with mean ``1 / rate_rps``: mu = ln(mean) - sigma^2 / 2. Models are drawn
    i.i.d. with probability proportional to ``shares`` (normalised, since Paella's shares round).
    """
    if not rate_rps > 0 or not sigma >= 0 or num_jobs < 1:
        raise ValueError(f"need rate_rps > 0, sigma >= 0, num_jobs >= 1; got {rate_rps}, {sigma}, {num_jobs}")
    names = sorted(shares)
    p = np.array([shares[m] for m in names], dtype=float)
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"model shares must be >= 0 with a positive sum, got {dict(shares)}")
    mu = math.log(1.0 / rate_rps) - sigma**2 / 2
    gaps = rng.lognormal(mu, sigma, num_jobs - 1)
    arrival = np.concatenate([[0.0], np.cumsum(gaps)])
    picks = rng.choice(len(names), size=num_jobs, p=p / p.sum())
    return arrival, tuple(names[i] for i in picks)
