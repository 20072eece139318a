"""Read the runtime's Prometheus metrics as a scraper would: Ray's metrics export port, text format.

The controller's counters (``ray_alpa_serve_like_requests_total`` by model and outcome,
``ray_alpa_serve_like_slo_met_total`` by model) say what the server answered; a client that
replays a workload can check its own counts against them. Ray pushes metrics to its exporter every
few seconds, so ``wait_for_app_totals`` polls until the counters reach what the caller expects.
"""
from __future__ import annotations

import re
import time
import urllib.request
from collections import Counter

_SAMPLE = re.compile(r"^(ray_alpa_serve_like_\w+)\{([^}]*)\} (\S+)", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def app_series(text: str, app_name: str) -> list[tuple[str, dict, float]]:
    """``(name, labels, value)`` of the ``ray_alpa_serve_like_*`` samples of Serve app ``app_name`` in a
    Prometheus text page (other apps' samples, deleted ones included, are left out)."""
    out = []
    for name, labels, value in _SAMPLE.findall(text):
        tags = dict(_LABEL.findall(labels))
        if tags.get("application") == app_name:
            out.append((name, tags, float(value)))
    return out


def app_totals(series) -> dict:
    """``{"requests": {outcome: n}, "slo_met": n}`` summed over models and replicas."""
    requests, met = Counter(), 0.0
    for name, tags, value in series:
        if name == "ray_alpa_serve_like_requests_total":
            requests[tags.get("outcome", "?")] += value
        elif name == "ray_alpa_serve_like_slo_met_total":
            met += value
    return {"requests": {k: int(v) for k, v in sorted(requests.items())}, "slo_met": int(met)}


def metrics_urls() -> list[str]:
    """``/metrics`` of every live node's Ray metrics export port (needs ``ray.init`` first)."""
    import ray

    return [f"http://{n['NodeManagerAddress']}:{n['MetricsExportPort']}/metrics" for n in ray.nodes() if n.get("Alive")]


def wait_for_app_totals(urls, app_name: str, answered: int, timeout_s: float = 30.0) -> dict:
    """``app_totals`` of ``app_name`` over ``urls`` once they count ``answered`` requests (or the last
    scrape after ``timeout_s``, with ``"complete": False``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        series = []
        for url in urls:
            with urllib.request.urlopen(url, timeout=10) as resp:
                series += app_series(resp.read().decode(), app_name)
        totals = app_totals(series)
        totals["complete"] = sum(totals["requests"].values()) >= answered
        if totals["complete"] or time.monotonic() > deadline:
            return totals
        time.sleep(1.0)
