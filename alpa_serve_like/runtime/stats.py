"""Request statistics of the runtime: counters, latency percentiles and SLO attainment per model.

Pure Python (no Ray) so it is unit-tested directly; the controller feeds it and serves
``snapshot()`` as ``/v1/stats``. Attainment counts every request that reached the controller:
rejected and failed requests are misses, like the simulator counts them.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Outcome = Literal["ok", "rejected", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "rejected", "failed")


@dataclass
class _ModelStats:
    counts: dict = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    slo_met: int = 0
    latency_s: deque = field(default_factory=deque)


class RuntimeStats:
    """Per-model outcome counts, SLO hits and a window of recent latencies."""

    def __init__(self, models, latency_window: int = 10_000):
        self.window = latency_window
        self.models = {m: _ModelStats(latency_s=deque(maxlen=latency_window)) for m in models}
        self.stage_s: dict[tuple[int, int], deque] = {}
        self.batch_sizes: dict[int, deque] = {}

    def record(self, model: str, outcome: Outcome, latency_s: float = math.nan, deadline_met: bool = False) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        st = self.models.get(model)
        if st is None:  # (not setdefault: it would build a throwaway one per request)
            st = self.models[model] = _ModelStats(latency_s=deque(maxlen=self.window))
        st.counts[outcome] += 1
        if outcome == "ok":
            st.latency_s.append(latency_s)
            st.slo_met += bool(deadline_met)

    def record_batch(self, group: int, batch_size: int, stage_compute_s) -> None:
        _window(self.batch_sizes, group, self.window).append(batch_size)
        for stage, seconds in enumerate(stage_compute_s):
            _window(self.stage_s, (group, stage), self.window).append(seconds)

    def attainment(self, model: str | None = None) -> float:
        """Fraction of requests that finished within their SLO (NaN with no requests)."""
        picked = [self.models[model]] if model is not None else list(self.models.values())
        total = sum(sum(st.counts.values()) for st in picked)
        return sum(st.slo_met for st in picked) / total if total else math.nan

    def snapshot(self) -> dict:
        """A JSON-ready summary (latencies in milliseconds)."""
        models = {}
        for name, st in self.models.items():
            lat = np.asarray(st.latency_s, dtype=float)
            models[name] = {
                **st.counts, "requests": sum(st.counts.values()), "slo_met": st.slo_met,
                "attainment": _finite(self.attainment(name)),
                "latency_ms": _percentiles_ms(lat),
            }
        stages = {}
        for (group, stage), values in sorted(self.stage_s.items()):
            stages.setdefault(str(group), {})[str(stage)] = _percentiles_ms(np.asarray(values, dtype=float))
        batches = {str(g): {"batches": len(v), "mean_size": float(np.mean(v)) if v else None}
                   for g, v in sorted(self.batch_sizes.items())}
        return {"attainment": _finite(self.attainment()), "models": models,
                "stage_compute_ms": stages, "batches": batches}


def _window(windows: dict, key, maxlen: int) -> deque:
    """``windows[key]``, a new deque of ``maxlen`` the first time (built only then: this runs per batch)."""
    found = windows.get(key)
    if found is None:
        found = windows[key] = deque(maxlen=maxlen)
    return found


def _percentiles_ms(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "mean": None}
    p50, p90, p99 = np.percentile(values, [50, 90, 99]) * 1e3
    return {"count": int(values.size), "p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "p99": round(float(p99), 3), "mean": round(float(values.mean() * 1e3), 3)}


def _finite(x: float):
    return None if math.isnan(x) else round(x, 6)
