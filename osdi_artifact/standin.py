"""Synthetic stand-ins for the Azure Functions traces (MAF1, MAF2) when the real files are absent.

The experiments replay a real trace the AlpaServe way: per model and per fit window, a Gamma
process with the window's fitted rate and CV (``trace.azure_functions.replay(mode="gamma")``).
A stand-in keeps that structure and invents the fits:

- mean rates across models follow a power law, rate_i proportional to (rank_i + 1) ** -alpha, with
  the ranks a random permutation of the models (so the busy models are not all of one kind);
- each model has its own gap CV, lognormal around ``cv_median`` (heterogeneous burstiness);
- each model's rate drifts from window to window: a log-AR(1) multiplier with stationary standard
  deviation ``drift_sigma`` and correlation ``drift_phi`` per window, normalised to mean 1.

The structure (ranks, CVs, drifts) comes from ``structure_seed`` only; the arrivals drawn from it
come from a separate generator, so a training and an evaluation workload can share the structure
and differ in their draws (or be drawn from different, later windows). ``rate_scale`` and
``cv_scale`` act exactly as in the real replay. Everything here is invented: results on a
stand-in are labelled as such and are not the paper's traces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from alpa_serve_like.trace import arrival
from alpa_serve_like.trace.rate_split import power_law
from alpa_serve_like.core.workload import Workload


@dataclass(frozen=True)
class StandInSpec:
    """Parameters of one stand-in trace (see module docstring)."""

    name: str
    """"maf1" or "maf2": which real trace this stands in for."""
    alpha: float
    """Power-law exponent of the mean rates across models."""
    cv_median: float
    """Median per-model gap CV."""
    cv_sigma: float
    """Standard deviation of log CV across models."""
    drift_sigma: float
    """Stationary standard deviation of a model's log rate multiplier across windows."""
    drift_phi: float
    """Window-to-window correlation of the log rate multiplier (0: independent windows)."""
    window_s: float = 60.0
    """Length of one fit window (rate and CV are constant inside it)."""
    structure_seed: int = 2019
    description: str = ""


STAND_INS: dict[str, StandInSpec] = {
    # MAF1 (2019): per-minute counts; with functions striped over models the per-model loads are
    # similar and moderately bursty.
    "maf1": StandInSpec("maf1", alpha=0.5, cv_median=2.0, cv_sigma=0.4, drift_sigma=0.25, drift_phi=0.9,
                        structure_seed=2019,
                        description="synthetic stand-in for MAF1: power-law rates (alpha 0.5), per-model "
                                    "Gamma CVs around 2, slowly drifting per-minute rates"),
    # MAF2 (2021): far burstier and more skewed.
    "maf2": StandInSpec("maf2", alpha=1.0, cv_median=4.0, cv_sigma=0.6, drift_sigma=0.5, drift_phi=0.8,
                        structure_seed=2021,
                        description="synthetic stand-in for MAF2: power-law rates (alpha 1.0), per-model "
                                    "Gamma CVs around 4, strongly drifting per-minute rates"),
}


@dataclass(frozen=True, eq=False)
class StandInFits:
    """Invented per-window fits: ``rate[model, window]`` (req/s at total rate 1) and ``cv[model]``."""

    rate: np.ndarray
    cv: np.ndarray
    window_s: float


def stand_in_fits(spec: StandInSpec, num_models: int, num_windows: int) -> StandInFits:
    """The structure of ``spec`` for ``num_models`` models over the first ``num_windows`` windows.

    Prefix-stable: the first k windows are the same whatever ``num_windows`` >= k is asked for.
    """
    rng = np.random.default_rng(spec.structure_seed)
    ranks = rng.permutation(num_models)
    share = power_law(num_models, spec.alpha)[ranks]
    cv = np.exp(np.log(spec.cv_median) + spec.cv_sigma * rng.standard_normal(num_models))
    rates = np.empty((num_models, num_windows))
    innovation = spec.drift_sigma * np.sqrt(1.0 - spec.drift_phi**2)
    for i, child in enumerate(rng.spawn(num_models)):
        eps = child.standard_normal(num_windows)
        x = np.empty(num_windows)
        x[0] = spec.drift_sigma * eps[0]  # start in the stationary distribution
        for w in range(1, num_windows):
            x[w] = spec.drift_phi * x[w - 1] + innovation * eps[w]
        rates[i] = share[i] * np.exp(x - spec.drift_sigma**2 / 2)  # E[exp(x)] = exp(sigma^2 / 2)
    return StandInFits(rates, cv, spec.window_s)


def stand_in_workload(
    spec: StandInSpec,
    model_names: Sequence[str],
    total_rate: float,
    start_s: float,
    duration_s: float,
    rng: np.random.Generator,
    slo_s: np.ndarray,
    rate_scale: float = 1.0,
    cv_scale: float = 1.0,
) -> Workload:
    """Requests of ``model_names`` in ``[start_s, start_s + duration_s)`` of the stand-in trace.

    ``total_rate`` is the mean total request rate (req/s) at ``rate_scale`` 1. Times of the result
    start at 0 at ``start_s``. ``slo_s`` holds one SLO per model.
    """
    names = list(model_names)
    if duration_s <= 0 or start_s < 0:
        raise ValueError(f"stand-in window must have start >= 0 and duration > 0, got {start_s}, {duration_s}")
    end_s = start_s + duration_s
    num_windows = int(np.ceil(end_s / spec.window_s))
    fits = stand_in_fits(spec, len(names), num_windows)
    first = int(start_s // spec.window_s)
    streams = []
    for i, child in enumerate(rng.spawn(len(names))):
        parts = []
        for w in range(first, num_windows):
            lo, hi = max(w * spec.window_s, start_s), min((w + 1) * spec.window_s, end_s)
            if hi > lo:
                rate = fits.rate[i, w] * total_rate * rate_scale
                parts.append(arrival.gamma(rate, fits.cv[i] * cv_scale, hi - lo, child, lo - start_s))
        streams.append(np.concatenate(parts) if parts else np.empty(0))
    times = np.concatenate(streams)
    ids = np.repeat(np.arange(len(names), dtype=np.int32), [len(s) for s in streams])
    order = np.argsort(times, kind="stable")
    slo = np.asarray(slo_s, dtype=np.float64)
    meta = {"name": f"standin-{spec.name}", "source": f"synthetic stand-in for {spec.name.upper()}",
            "span_s": float(duration_s), "window_s": [float(start_s), float(end_s)],
            "total_rate": float(total_rate), "rate_scale": float(rate_scale), "cv_scale": float(cv_scale)}
    return Workload(times[order], ids[order], slo[ids[order]], tuple(names), meta=meta)
