"""The demo's traffic: a real trace (Azure LLM inference 2023) cut into a few tiny-model streams.

The trace's two services (``conv``, ``code``) are each split at their median context length into
a "short" and a "long" stream, giving four streams, each served by one model instance. Real
timestamps are kept and compressed (divided by ``time_compression``) so the total rate suits this
machine; the burst structure of the trace is preserved at the shorter time scale. The evaluation
window follows the training window in the trace (train on the past, serve the future). Without the
trace files, a Gamma stand-in with the same four streams is used and said so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from alpa_serve_like.core.workload import Workload

TRACE_FILES = ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv")
TRACE_SUBDIR = "azure_llm_inference_2023"

STREAMS: tuple[tuple[str, str], ...] = (("conv", "short"), ("conv", "long"), ("code", "short"), ("code", "long"))
"""(trace service, context half) of each stream; stream ``i`` is served by the ``i``-th model."""


@dataclass(frozen=True, eq=False)
class DemoTraffic:
    train: Workload
    test: Workload
    source: str
    """One line saying where the traffic came from and how it was scaled."""


def find_trace_dir(explicit: str | None = None) -> Path | None:
    """The folder holding the Azure LLM trace files: ``explicit``, else ``../shared/data`` next to
    the current directory or to the source checkout; None if none has both files."""
    here = Path(__file__).resolve().parents[2]
    candidates = [Path(explicit)] if explicit else [Path.cwd() / ".." / "shared" / "data", here / ".." / "shared" / "data"]
    for c in candidates:
        for d in (c, c / TRACE_SUBDIR):
            if all((d / f).is_file() for f in TRACE_FILES):
                return d.resolve()
    return None


def _streams_from_trace(trace_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(arrival_s from the first request, stream id, context tokens, trace span s) over both files."""
    from alpa_serve_like.trace.azure_llm import load_azure_llm

    w = load_azure_llm([trace_dir / f for f in TRACE_FILES], models="by_file")
    stream = np.empty(len(w), dtype=np.int32)
    for service_id, service in enumerate(w.model_names):
        mine = w.model_id == service_id
        median = np.median(w.size[mine])
        stream[mine] = 2 * service_id + (w.size[mine] > median)
    return w.arrival_s, stream, w.size, float(w.arrival_s[-1] - w.arrival_s[0])


def _cut(arrival_s, stream, size, lo_s: float, hi_s: float, compression: float, slo_s: np.ndarray,
         names: Sequence[str], meta: dict) -> Workload:
    pick = (arrival_s >= lo_s) & (arrival_s < hi_s)
    t = (arrival_s[pick] - lo_s) / compression
    ids = stream[pick]
    return Workload(t, ids, slo_s[ids], tuple(names), size[pick].astype(np.int32),
                    {**meta, "span_s": (hi_s - lo_s) / compression, "window_s": [lo_s, hi_s]})


def demo_traffic(trace_dir: Path | None, duration_s: float, target_rate: float, slo_s: np.ndarray,
                 rng: np.random.Generator, models: Sequence[str], train_windows: int = 4) -> DemoTraffic:
    """Training traffic (``train_windows`` x ``duration_s`` right before) and ``duration_s`` of
    evaluation traffic, the trace compressed to ``target_rate`` requests/s on average; stream ``i``
    of ``STREAMS`` goes to ``models[i]``."""
    names = list(models)
    if len(names) != len(STREAMS):
        raise ValueError(f"the demo traffic has {len(STREAMS)} streams (conv/code x short/long context); "
                         f"give {len(STREAMS)} models, got {len(names)}: {', '.join(names)}")
    if trace_dir is not None:
        arrival, stream, size, span = _streams_from_trace(trace_dir)
        compression = target_rate / (len(arrival) / span)
        window = duration_s * compression  # trace seconds replayed in duration_s
        test_lo = min(train_windows * window, span - window)
        if test_lo <= 0:
            raise ValueError(f"the trace in {trace_dir} spans {span:.0f} s, too short for {duration_s:g} s at "
                             f"{target_rate:g} req/s; lower --rate or --duration")
        meta = {"name": "azure-llm-2023", "source": str(trace_dir), "time_compression": compression}
        train = _cut(arrival, stream, size, 0.0, test_lo, compression, slo_s, names, meta)
        test = _cut(arrival, stream, size, test_lo, test_lo + window, compression, slo_s, names, meta)
        source = (f"Azure LLM inference trace 2023 ({trace_dir}): conv/code x short/long context -> "
                  f"{', '.join(names)}; time compressed {compression:.2f}x; trace seconds "
                  f"[{test_lo:.0f}, {test_lo + window:.0f}) replayed, the {test_lo:.0f} s before used to place")
        return DemoTraffic(train, test, source)
    from alpa_serve_like.trace.synthetic import make_workload

    fractions = [0.45, 0.25, 0.2, 0.1]
    make = lambda seed, dur: make_workload(names, target_rate, dur, np.random.default_rng([seed, 7]), slo_s=slo_s,
                                           process="gamma", cv=3.0, split="explicit", weights=fractions,
                                           name="demo-standin")
    seed = int(rng.integers(1 << 30))
    source = ("SYNTHETIC STAND-IN (Azure LLM trace files not found under ../shared/data; pass --trace-dir): "
              "Gamma arrivals, CV 3, four streams with shares 45/25/20/10%")
    return DemoTraffic(make(seed, train_windows * duration_s), make(seed + 1, duration_s), source)


def env_trace_dir() -> str | None:
    """``ALPA_SERVE_LIKE_TRACE_DIR`` if set (lets a packaged install point at the data)."""
    return os.environ.get("ALPA_SERVE_LIKE_TRACE_DIR") or None
