"""Synthetic workloads: one independent arrival stream per model, rates from a rate split.

Each model draws from its own child generator (``rng.spawn``), so a model's stream depends only on
its own rate and the parent seed, not on how many draws the other models made.
"""
from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np

from alpa_serve_like.trace import arrival
from alpa_serve_like.trace.rate_split import rate_fractions
from alpa_serve_like.core.workload import Workload, slo_per_model_array

Process = Literal["poisson", "gamma", "deterministic", "lognormal", "mmpp"]


def _model_arrivals(process: str, rate: float, duration_s: float, rng: np.random.Generator, start_s: float,
                    cv: float, mmpp_multipliers: Sequence[float], mmpp_switch_rates) -> np.ndarray:
    if process == "poisson":
        return arrival.poisson(rate, duration_s, rng, start_s)
    if process == "gamma":
        return arrival.gamma(rate, cv, duration_s, rng, start_s)
    if process == "deterministic":
        return arrival.deterministic(rate, duration_s, rng, start_s)
    if process == "lognormal":
        if rate == 0:
            return np.empty(0)
        # sigma chosen so the gap CV equals ``cv``: cv^2 = exp(sigma^2) - 1
        return arrival.lognormal(1.0 / rate, float(np.sqrt(np.log1p(cv**2))), duration_s, rng, start_s)
    if process == "mmpp":
        m = np.asarray(mmpp_multipliers, dtype=np.float64)
        pi = arrival.mmpp_stationary(mmpp_switch_rates, len(m))
        mean = float(pi @ m)
        if mean <= 0:
            raise arrival.ArrivalError(f"mmpp multipliers {m.tolist()} give a zero mean rate")
        return arrival.mmpp(m * (rate / mean), mmpp_switch_rates, duration_s, rng, start_s)
    raise arrival.ArrivalError(f"unknown arrival process {process!r} (known: {', '.join(arrival.PROCESSES)})")


def _seed_of(rng: np.random.Generator):
    seq = getattr(rng.bit_generator, "seed_seq", None)
    entropy = getattr(seq, "entropy", None)
    if isinstance(entropy, int) and not getattr(seq, "spawn_key", ()):
        return entropy
    return None


def make_workload(
    model_names: Sequence[str],
    total_rate: float,
    duration_s: float,
    rng: np.random.Generator,
    slo_s: float | Mapping[str, float] | Sequence[float] = 1.0,
    process: Process = "gamma",
    cv: float = 1.0,
    split: str = "uniform",
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    start_s: float = 0.0,
    mmpp_multipliers: Sequence[float] = (0.25, 4.0),
    mmpp_switch_rates=(0.1, 0.4),
    name: str = "synthetic",
) -> Workload:
    """A synthetic workload of ``duration_s`` seconds at ``total_rate`` requests/s over all models.

    Model ``i`` gets rate ``total_rate * fraction[i]`` where the fractions come from ``split``
    ("uniform", "power_law" with ``alpha``, "explicit" with ``weights``). ``process`` picks the
    arrival process of every model: "gamma" with gap CV ``cv``; "poisson"; "deterministic";
    "lognormal" with gap CV ``cv``; "mmpp" whose state rates are ``mmpp_multipliers`` scaled so
    the mean is the model's rate, switching at ``mmpp_switch_rates`` (see ``arrival.mmpp``).
    ``slo_s`` is one float, a dict model -> seconds, or one value per model.
    """
    names = [str(n) for n in model_names]
    if not names:
        raise ValueError("make_workload: give at least one model name")
    slo = slo_per_model_array(names, slo_s)
    total_rate = float(total_rate)
    if not np.isfinite(total_rate) or total_rate < 0:
        raise arrival.ArrivalError(f"total_rate must be a finite number >= 0 requests/s, got {total_rate}")
    if process not in arrival.PROCESSES:
        raise arrival.ArrivalError(f"unknown arrival process {process!r} (known: {', '.join(arrival.PROCESSES)})")
    fractions = rate_fractions(split, len(names), alpha=alpha, weights=weights)
    children = rng.spawn(len(names))
    streams = [_model_arrivals(process, total_rate * f, duration_s, child, start_s, cv,
                               mmpp_multipliers, mmpp_switch_rates)
               for f, child in zip(fractions, children)]
    arrivals = np.concatenate(streams)
    ids = np.repeat(np.arange(len(names), dtype=np.int32), [len(s) for s in streams])
    order = np.argsort(arrivals, kind="stable")
    meta = {
        "name": name, "process": process, "total_rate": total_rate, "duration_s": float(duration_s),
        "span_s": float(start_s) + float(duration_s), "start_s": float(start_s), "cv": float(cv),
        "split": split, "alpha": float(alpha), "rates": (total_rate * fractions).tolist(),
        "slo_s": slo.tolist(),
    }
    if weights is not None:
        meta["weights"] = [float(x) for x in weights]
    if process == "mmpp":
        meta["mmpp_multipliers"] = [float(x) for x in mmpp_multipliers]
        meta["mmpp_switch_rates"] = np.asarray(mmpp_switch_rates, dtype=float).tolist()
    seed = _seed_of(rng)
    if seed is not None:
        meta["seed"] = seed
    return Workload(arrivals[order], ids[order], slo[ids[order]], tuple(names), meta=meta)
