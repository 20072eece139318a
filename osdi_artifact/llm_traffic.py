"""Experiment traffic from the real Azure LLM inference trace 2023 (``--trace llm``).

The trace (two services, ~28k requests in one hour) is one bursty request stream; it becomes
traffic for the experiment's models as follows:

- the requests of both services are merged on one clock and ranked by context length; rank ``r`` of
  ``n`` goes to model ``r * M // n`` (equal shares; requests of similar length share a model, as a
  deployment routing by prompt length would), so every model sees the trace's own bursts;
- time is compressed so the trace's mean total rate equals ``case.total_rate`` (AlpaServe rescales
  its traces to the cluster the same way); the experiment window ``[start_s, start_s + duration)``
  is cut from that compressed timeline, which repeats when the window runs past its end (one hour
  of trace, compressed, can be shorter than a full run);
- as for the Azure Functions traces, each model's arrivals are fitted with a Gamma process per fit
  window and redrawn with the seed, ``rate_scale`` and ``cv_scale`` (``trace.gamma_replay``), so the
  training and evaluation draws differ while keeping the trace's rate and burstiness over time.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from alpa_serve_like.core.workload import Workload
from alpa_serve_like.trace.gamma_replay import replay_from_arrivals

LLM_FILES = ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv")


def llm_files(path: str) -> list[Path]:
    """The trace files under ``path`` (a folder holding them, or its ``azure_llm_inference_2023``)."""
    for d in (Path(path), Path(path) / "azure_llm_inference_2023"):
        if all((d / f).is_file() for f in LLM_FILES):
            return [d / f for f in LLM_FILES]
    raise FileNotFoundError(f"{path} does not hold {' and '.join(LLM_FILES)} (the Azure LLM inference trace "
                            f"2023); pass the folder that does, e.g. ../shared/data")


@functools.lru_cache(maxsize=2)
def arrivals_and_tokens(path: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(arrival times s, context tokens, span s) of every request of the trace under ``path``,
    both services merged on one clock; read once per process."""
    from alpa_serve_like.trace.azure_llm import load_azure_llm

    w = load_azure_llm(llm_files(path), models="by_file")
    span = float(w.arrival_s[-1]) + float(np.median(np.diff(w.arrival_s)))  # one typical gap past the last
    return w.arrival_s, w.size, span


def llm_workload(path: str, models, total_rate: float, start_s: float, duration_s: float,
                 rng: np.random.Generator, slo_s: np.ndarray, rate_scale: float = 1.0,
                 cv_scale: float = 1.0) -> Workload:
    """The experiment window of the LLM trace as traffic for ``models`` (module docstring)."""
    t, tokens, span = arrivals_and_tokens(path)
    m = len(models)
    owner = np.empty(len(t), dtype=np.int32)
    owner[np.argsort(tokens, kind="stable")] = (np.arange(len(t)) * m) // len(t)
    k = total_rate / (len(t) / span)  # experiment seconds are k times denser than trace seconds
    lo, hi = start_s * k, (start_s + duration_s) * k  # the window in (repeating) trace seconds
    per_model = [[] for _ in range(m)]
    for copy in range(int(lo // span), int(np.ceil(hi / span))):
        shifted = t + copy * span
        pick = (shifted >= lo) & (shifted < hi)
        for i in range(m):
            per_model[i].append((shifted[pick & (owner == i)] - lo) / k)
    per_model = [np.sort(np.concatenate(p)) for p in per_model]
    fit_window_s = max(60.0, min(600.0, 60.0 * (duration_s // 60)))
    streams, fits = replay_from_arrivals(per_model, duration_s, fit_window_s, rng, rate_scale, cv_scale)
    arrivals = np.concatenate(streams)
    ids = np.repeat(np.arange(m, dtype=np.int32), [len(s) for s in streams])
    order = np.argsort(arrivals, kind="stable")
    meta = {"name": "llm-gamma", "source": f"real Azure LLM trace 2023 ({path})", "time_compression": k,
            "span_s": duration_s, "window_s": [lo / k, hi / k], "rate_scale": rate_scale, "cv_scale": cv_scale,
            "fit_window_s": fit_window_s}
    return Workload(arrivals[order], ids[order], np.asarray(slo_s)[ids[order]], tuple(models), meta=meta)
