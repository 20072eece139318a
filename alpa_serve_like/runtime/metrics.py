"""Prometheus metrics of the runtime through Ray Serve's metrics API (``ray.serve.metrics``).

Exported on each Ray node's metrics port with Serve's deployment/replica tags added. Names start
with ``alpa_serve_like_``; latencies are milliseconds, as Serve's own histograms are.
"""
from __future__ import annotations

import math

from ray.serve import metrics

_LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


class ServeMetrics:
    """The controller's metrics sink (see ``controller_core.NullMetrics`` for the interface)."""

    def __init__(self):
        self.requests = metrics.Counter(
            "alpa_serve_like_requests", description="Requests by model and outcome (ok, rejected, failed).",
            tag_keys=("model", "outcome"))
        self.slo_met = metrics.Counter(
            "alpa_serve_like_slo_met", description="Requests that finished within their SLO.", tag_keys=("model",))
        self.attainment = metrics.Gauge(
            "alpa_serve_like_slo_attainment", description="SLO attainment so far (met / all requests).",
            tag_keys=("model",))
        self.latency = metrics.Histogram(
            "alpa_serve_like_request_latency_ms", description="End-to-end latency of served requests.",
            boundaries=_LATENCY_BOUNDS_MS, tag_keys=("model",))
        self.stage = metrics.Histogram(
            "alpa_serve_like_stage_latency_ms", description="Compute time of one pipeline stage for one batch.",
            boundaries=_LATENCY_BOUNDS_MS, tag_keys=("group", "stage"))
        self.group_up = metrics.Gauge(
            "alpa_serve_like_group_up", description="1 while a mesh group serves, 0 while it recovers.",
            tag_keys=("group",))
        self._seen: dict[str, list[int]] = {}

    def on_request(self, model: str, outcome: str, latency_s: float, slo_met: bool) -> None:
        self.requests.inc(tags={"model": model, "outcome": outcome})
        seen = self._seen.setdefault(model, [0, 0])
        seen[0] += 1
        if slo_met:
            seen[1] += 1
            self.slo_met.inc(tags={"model": model})
        if not math.isnan(latency_s):
            self.latency.observe(latency_s * 1e3, tags={"model": model})
        self.attainment.set(seen[1] / seen[0], tags={"model": model})

    def on_batch(self, group: int, stage_compute_s) -> None:
        for stage, seconds in enumerate(stage_compute_s):
            self.stage.observe(seconds * 1e3, tags={"group": str(group), "stage": str(stage)})

    def on_group_state(self, group: int, up: bool) -> None:
        self.group_up.set(1.0 if up else 0.0, tags={"group": str(group)})
