"""Prometheus metrics of the runtime through Ray Serve's metrics API (``ray.serve.metrics``).

Ray exports them on each node's metrics port (``ray.nodes()[i]["MetricsExportPort"]``; the head's
with ``ray start --metrics-export-port=8080``) as ``ray_<name>``, with Serve's ``deployment``,
``replica`` and ``application`` labels added. Times are seconds (Prometheus base units); the
README's "Metrics" section lists every name and label.
"""
from __future__ import annotations

import math
import time
from typing import Callable

from ray.serve import metrics

from alpa_serve_like.runtime.windowed_attainment import WindowedAttainment

LATENCY_BOUNDS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
ATTAINMENT_WINDOW_S = 60.0
"""The ``slo_attainment`` gauge covers the requests answered in the last minute."""


class ServeMetrics:
    """The controller's metrics sink (see ``controller_state.NullMetrics`` for the interface).

    ``num_groups``: every group's ``group_up`` series exists (0) from construction, before any
    group has started or failed, so a dashboard sees each group from the start."""

    def __init__(self, num_groups: int, *, window_s: float = ATTAINMENT_WINDOW_S,
                 clock: Callable[[], float] = time.time):
        self.clock = clock
        self.window_s = window_s
        self.requests = metrics.Counter(
            "alpa_serve_like_requests", description="Requests answered, by model and outcome (ok, rejected, failed).",
            tag_keys=("model", "outcome"))
        self.slo_met = metrics.Counter(
            "alpa_serve_like_slo_met", description="Requests answered within their SLO.", tag_keys=("model",))
        self.attainment = metrics.Gauge(
            "alpa_serve_like_slo_attainment",
            description=f"SLO attainment (met / answered) over the last {window_s:g} s, updated as requests are "
                        "answered; rate(slo_met) / rate(requests) gives it over any window.",
            tag_keys=("model",))
        self.latency = metrics.Histogram(
            "alpa_serve_like_request_latency_seconds", description="End-to-end latency of served requests.",
            boundaries=LATENCY_BOUNDS_S, tag_keys=("model",))
        self.stage = metrics.Histogram(
            "alpa_serve_like_stage_compute_seconds", description="Compute time of one pipeline stage for one batch.",
            boundaries=LATENCY_BOUNDS_S, tag_keys=("group", "stage"))
        self.group_up = metrics.Gauge(
            "alpa_serve_like_group_up", description="1 while a mesh group serves, 0 while it starts or recovers.",
            tag_keys=("group",))
        self._windows: dict[str, WindowedAttainment] = {}
        for g in range(num_groups):
            self.on_group_state(g, False)

    def on_request(self, model: str, outcome: str, latency_s: float, slo_met: bool) -> None:
        self.requests.inc(tags={"model": model, "outcome": outcome})
        if slo_met:
            self.slo_met.inc(tags={"model": model})
        if not math.isnan(latency_s):
            self.latency.observe(latency_s, tags={"model": model})
        window = self._windows.get(model)
        if window is None:
            window = self._windows[model] = WindowedAttainment(self.window_s)
        self.attainment.set(window.add(self.clock(), slo_met), tags={"model": model})

    def on_batch(self, group: int, stage_compute_s) -> None:
        for stage, seconds in enumerate(stage_compute_s):
            self.stage.observe(seconds, tags={"group": str(group), "stage": str(stage)})

    def on_group_state(self, group: int, up: bool) -> None:
        self.group_up.set(1.0 if up else 0.0, tags={"group": str(group)})
