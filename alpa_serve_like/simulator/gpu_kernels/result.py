"""GpuRunResult: per-job arrival and finish times of one kernel-level run, and the figures' metrics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GpuRunResult:
    arrival_s: np.ndarray
    finish_s: np.ndarray
    model: tuple[str, ...]
    """Model of each job."""

    @property
    def latency_s(self) -> np.ndarray:
        return self.finish_s - self.arrival_s

    def throughput_rps(self) -> float:
        """Jobs completed per second, from the first arrival to the last completion."""
        if len(self.finish_s) == 0:
            return 0.0
        span = float(self.finish_s.max() - self.arrival_s.min())
        return len(self.finish_s) / span if span > 0 else float("inf")

    def _latencies(self, model: str | None) -> np.ndarray:
        lat = self.latency_s
        if model is None:
            return lat
        if model not in self.model:
            raise ValueError(f"model {model!r} ran no job in this result (models: {', '.join(sorted(set(self.model)))})")
        return lat[np.array([m == model for m in self.model])]

    def mean_s(self, model: str | None = None) -> float:
        return float(self._latencies(model).mean())

    def p99_s(self, model: str | None = None) -> float:
        return float(np.percentile(self._latencies(model), 99))
