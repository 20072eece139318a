"""The traffic a long search optimizes against: the training sample plus fresh samples like it.

A search that evaluates thousands of placements on one training sample learns that sample's
accidents (which models happened to burst together, which happened to get a long burst) and
loses on other traffic from the same source. ``resampled_copies`` appends ``copies`` spans of new
traffic made, per model, by drawing that model's own inter-arrival gaps with replacement (a
bootstrap of the renewal process: each model keeps its rate and its gap distribution, heavy tail
included, but bursts fall at new times and have new lengths). It assumes each model's gaps are
independent of each other and of other models' (exact for the Gamma/Poisson generators, an
approximation for real traces).
"""
from __future__ import annotations

import numpy as np

from alpa_serve_like.core.workload import Workload


def bootstrap_stream(gaps_s: np.ndarray, span_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in ``[0, span_s)`` from gaps drawn with replacement from ``gaps_s``."""
    mean = float(gaps_s.mean())
    if mean <= 0:
        return np.empty(0)
    out, t = [], rng.uniform() * float(rng.choice(gaps_s))  # stationary-ish start
    while t < span_s:
        draw = rng.choice(gaps_s, size=int(1.2 * (span_s - t) / mean) + 8)
        times = t + np.concatenate(([0.0], np.cumsum(draw)))
        out.append(times[:-1])
        t = float(times[-1])
    times = np.concatenate(out)
    return times[times < span_s]


def resampled_copies(workload: Workload, copies: int, rng: np.random.Generator) -> Workload:
    """``workload`` followed by ``copies`` spans of bootstrapped traffic (see the module doc).

    Models with fewer than two requests are copied unchanged into every span.
    """
    if copies <= 0 or len(workload) == 0:
        return workload
    start = min(0.0, float(workload.arrival_s[0]))
    span = max(workload.span_s, float(workload.arrival_s[-1])) - start
    arrivals, ids, slos = [workload.arrival_s], [workload.model_id], [workload.slo_s]
    for i in range(len(workload.model_names)):
        mine = workload.model_id == i
        times, slo = workload.arrival_s[mine], workload.slo_s[mine]
        if len(times) == 0:
            continue
        gaps = np.diff(times)
        for c in range(1, copies + 1):
            new = bootstrap_stream(gaps, span, rng) if len(times) >= 2 else times - start
            arrivals.append(start + c * span + new)
            ids.append(np.full(len(new), i, dtype=np.int32))
            slos.append(np.full(len(new), float(np.median(slo))))
    arrival_s = np.concatenate(arrivals)
    order = np.argsort(arrival_s, kind="stable")
    meta = dict(workload.meta, span_s=start + span * (copies + 1), resampled_copies=copies)
    return Workload(arrival_s[order], np.concatenate(ids)[order], np.concatenate(slos)[order],
                    workload.model_names, meta=meta)
