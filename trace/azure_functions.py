"""Azure Functions traces (MAF1 2019 counts, MAF2 2021 timestamps) turned into model workloads.

Steps: parse the raw files once and cache them (``convert_maf1`` / ``convert_maf2``, the
``trace convert`` command); load the cache (``load_function_trace``); pick a ``TraceWindow``;
map functions to models (``function_mapping``); then ``replay``:

- ``mode="gamma"``: per model and per fit window of ``fit_window_s``, fit rate and gap CV (from
  timestamps for MAF2, from per-minute counts for MAF1; estimators in ``fit``) and draw a Gamma
  process with ``rate * rate_scale`` and ``cv * cv_scale``.
- ``mode="exact"``: the trace's own requests. MAF2 replays its timestamps. MAF1 only has counts per
  minute, so each minute's ``c`` requests are placed in that minute either at ``c`` uniform random
  times (``spread="uniform"``: a Poisson process conditioned on the count) or evenly spaced
  (``spread="even"``, at ``(k + 0.5) / c`` of the minute).

Times of the result start at 0 at the window start and are divided by ``time_compression`` (2 makes
the same requests arrive twice as fast); in gamma mode ``time_compression`` likewise shortens the
timeline and multiplies the rates.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np

from alpa_serve_like.trace.csv_reader import TraceFormatError
from alpa_serve_like.trace.fit import GammaFit
from alpa_serve_like.trace.function_mapping import map_functions
from alpa_serve_like.trace.function_trace import FunctionTrace, TraceWindow, load_function_trace, save_function_trace
from alpa_serve_like.trace.gamma_replay import replay_from_arrivals, replay_from_counts
from alpa_serve_like.trace.maf1 import read_maf1
from alpa_serve_like.trace.maf2 import read_maf2
from alpa_serve_like.core.workload import Workload, slo_per_model_array

__all__ = ["FunctionTrace", "TraceFormatError", "TraceWindow", "convert_maf1", "convert_maf2", "load_function_trace",
           "map_functions", "read_maf1", "read_maf2", "replay"]


def convert_maf1(directory: str | os.PathLike, out: str | os.PathLike, days: Sequence[int] | None = None,
                 skip_bad_rows: bool = False) -> tuple[Path, FunctionTrace]:
    """Parse MAF1 day files and write the cache; returns (cache path, trace)."""
    t = read_maf1(directory, days, skip_bad_rows=skip_bad_rows)
    return save_function_trace(t, out), t


def convert_maf2(path: str | os.PathLike, out: str | os.PathLike, skip_bad_rows: bool = False) -> tuple[Path, FunctionTrace]:
    """Parse a MAF2 invocation file and write the cache; returns (cache path, trace)."""
    t = read_maf2(path, skip_bad_rows=skip_bad_rows)
    return save_function_trace(t, out), t


def _spread_minutes(counts: np.ndarray, spread: str, rng: np.random.Generator | None) -> list[np.ndarray]:
    """MAF1 exact replay: arrival times (s from window start) of each model from per-minute counts."""
    out = []
    for row in counts.astype(np.int64):
        minute = np.repeat(np.arange(len(row)), row)
        if spread == "uniform":
            if rng is None:
                raise ValueError("spread='uniform' needs rng")
            offset = rng.random(len(minute))
        elif spread == "even":
            first = np.repeat(np.cumsum(row) - row, row)
            offset = (np.arange(len(minute)) - first + 0.5) / np.repeat(row, row)
        else:
            raise ValueError(f"unknown spread {spread!r} (known: uniform, even)")
        out.append(np.sort(60.0 * (minute + offset)) if spread == "uniform" else 60.0 * (minute + offset))
    return out


def replay(
    trace: FunctionTrace,
    models: Sequence[str] | int,
    window: TraceWindow,
    *,
    mode: Literal["gamma", "exact"] = "gamma",
    rng: np.random.Generator | None = None,
    slo_s: float | Mapping[str, float] | Sequence[float] = 1.0,
    mapping: Literal["striped", "contiguous"] = "striped",
    top_n: int | None = None,
    rate_scale: float = 1.0,
    cv_scale: float = 1.0,
    fit_window_s: float = 3600.0,
    fit_method: Literal["moments", "mle"] = "moments",
    time_compression: float = 1.0,
    spread: Literal["uniform", "even"] = "uniform",
) -> Workload:
    """A workload for ``models`` (names, or a count for names "model-0"...) from ``trace`` in ``window``.

    See the module docstring for the modes. ``meta["fits"]`` holds the fitted (rate, cv) of every
    model and fit window in gamma mode; ``meta["function_model"]`` lists (function key, model).
    """
    names = [f"model-{i}" for i in range(models)] if isinstance(models, int) else [str(m) for m in models]
    if not time_compression > 0:
        raise ValueError(f"time_compression must be > 0, got {time_compression}")
    if mode not in ("gamma", "exact"):
        raise ValueError(f"unknown replay mode {mode!r} (known: gamma, exact)")
    if mode == "exact":  # the knobs shape fitted processes; exact replay has none to shape
        for name, value, default in (("rate_scale", rate_scale, 1.0), ("cv_scale", cv_scale, 1.0),
                                     ("fit_window_s", fit_window_s, 3600.0)):
            if value != default:
                raise ValueError(f"{name} applies to mode='gamma' (fitted Gamma processes), got {name}={value:g} "
                                 f"with mode='exact', which replays the trace's own requests; use "
                                 f"time_compression to replay them faster")
    if trace.span_s > 0 and window.start_s >= trace.span_s:
        raise ValueError(f"the window [{window.start_s:g}, {window.end_s:g}) s starts after the end of the trace, "
                         f"which covers {trace.span_s:g} s ({trace.span_s / 86400:.2f} days) from day 1 00:00; "
                         f"choose --day/--hour/--minute inside it")
    slo = slo_per_model_array(names, slo_s)
    function_model = map_functions(trace.function_totals(window), len(names), mapping, top_n)
    fits: list[list[GammaFit]] | None = None
    if mode == "gamma":
        if rng is None:
            raise ValueError("gamma replay draws random arrivals: pass rng=numpy.random.default_rng(seed)")
        if trace.kind == "maf1":
            bins = fit_window_s / 60.0
            if bins != int(bins) or bins < 1:
                raise ValueError(f"MAF1 fit windows must be whole minutes, got fit_window_s={fit_window_s}")
            counts = trace.model_minute_counts(window, function_model, len(names))
            streams, fits = replay_from_counts(counts, 60.0, int(bins), rng, rate_scale, cv_scale)
        else:
            t, m = trace.model_arrivals(window, function_model)
            per_model = [t[m == i] - window.start_s for i in range(len(names))]
            streams, fits = replay_from_arrivals(per_model, window.length_s, fit_window_s, rng, rate_scale,
                                                 cv_scale, fit_method)
    elif trace.kind == "maf1":
        streams = _spread_minutes(trace.model_minute_counts(window, function_model, len(names)), spread, rng)
    else:
        t, m = trace.model_arrivals(window, function_model)
        streams = [t[m == i] - window.start_s for i in range(len(names))]
    arrivals = np.concatenate(streams) / time_compression
    ids = np.repeat(np.arange(len(names), dtype=np.int32), [len(s) for s in streams])
    order = np.argsort(arrivals, kind="stable")
    used = np.flatnonzero(function_model >= 0)
    meta = {
        "name": f"{trace.kind}-{mode}", "source": trace.kind, "cache": trace.meta.get("cache_path"),
        "window_s": [window.start_s, window.end_s], "span_s": window.length_s / time_compression,
        "mode": mode, "mapping": mapping, "top_n": top_n, "time_compression": time_compression,
        "num_functions": int(len(used)),
    }
    if len(used) <= 5000:  # the full list of a whole-trace mapping would bloat every saved workload
        meta["function_model"] = [[str(trace.function_keys[f]), int(function_model[f])] for f in used]
    if mode == "gamma":
        meta.update(rate_scale=rate_scale, cv_scale=cv_scale, fit_window_s=fit_window_s,
                    fits=[[[f.rate, f.cv] for f in model_fits] for model_fits in fits])
    elif trace.kind == "maf1":
        meta["spread"] = spread
    return Workload(arrivals[order], ids[order], slo[ids[order]], tuple(names), meta=meta)
