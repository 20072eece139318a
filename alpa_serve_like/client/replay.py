"""Open-loop replay of a Workload against a running server, and its comparison with the simulator.

Each request is sent at its arrival time (asyncio + aiohttp), whether or not earlier ones have
come back: an open loop, so a slow server sees the queue build up as real clients would make it.
Every request's outcome and client-side latency (from the moment it was sent) is kept; a request
meets its SLO when it got HTTP 200 within ``slo_s``. Results go to a TSV file, one row a request.
Outcomes are told apart: a response that is not the server's JSON (e.g. the proxy's plain-text 404
for an unknown route) keeps its status with reason ``not-json: <first bytes>``; no response at all
is status 0, ``transport: <error>``. ``wait_until_ready`` polls ``GET /v1/models`` before a replay.
"""
from __future__ import annotations

import asyncio
import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from alpa_serve_like.core.workload import Workload
from alpa_serve_like.core.instances import instance_spec

TSV_COLUMNS = ("request", "model", "arrival_s", "sent_s", "latency_ms", "status", "reason", "slo_ms",
               "slo_met", "group", "batch_size", "queue_ms", "stages_ms", "server_total_ms", "hops_ms")
"""``hops_ms``: the server's ``timing_ms.hops`` (dispatch -> stage 0, each stage -> the next, last
stage -> controller), where a slow request's server time went when its compute does not explain it."""


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """Per-request arrays of one replay (times relative to the replay's start)."""

    workload: Workload
    sent_s: np.ndarray
    latency_s: np.ndarray  # NaN when no response came back
    status: np.ndarray  # int: HTTP status, 0 for a transport error
    reason: tuple[str, ...]
    group: np.ndarray
    batch_size: np.ndarray
    queue_ms: np.ndarray
    stages_ms: tuple[str, ...]
    server_total_ms: np.ndarray
    wall_s: float
    hops_ms: tuple[str, ...] = ()

    @property
    def good(self) -> np.ndarray:
        return (self.status == 200) & (self.latency_s <= self.workload.slo_s)

    @property
    def attainment(self) -> float:
        return float(self.good.mean()) if len(self.good) else math.nan

    def per_model_attainment(self) -> dict[str, float]:
        w = self.workload
        return {name: float(self.good[w.model_id == i].mean()) for i, name in enumerate(w.model_names)
                if np.any(w.model_id == i)}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for status, reason in zip(self.status.tolist(), self.reason):
            key = "ok" if status == 200 else f"{status}:{reason or 'error'}"
            out[key] = out.get(key, 0) + 1
        return out

    def max_send_lag_s(self) -> float:
        """How late the client sent its latest request (a large value means the client, not the
        server, was the bottleneck)."""
        return float(np.max(self.sent_s - self.workload.arrival_s)) if len(self.sent_s) else 0.0

    def write_tsv(self, path: str | Path) -> Path:
        path = Path(path)
        w = self.workload
        with open(path, "w", newline="") as f:
            out = csv.writer(f, delimiter="\t", lineterminator="\n")
            out.writerow(TSV_COLUMNS)
            for i in range(len(w)):
                lat = self.latency_s[i]
                out.writerow([
                    i, w.model_names[w.model_id[i]], f"{w.arrival_s[i]:.6f}", f"{self.sent_s[i]:.6f}",
                    "" if math.isnan(lat) else f"{lat * 1e3:.3f}", int(self.status[i]), self.reason[i],
                    f"{w.slo_s[i] * 1e3:.3f}", int(self.good[i]), int(self.group[i]), int(self.batch_size[i]),
                    _fmt(self.queue_ms[i]), self.stages_ms[i], _fmt(self.server_total_ms[i]),
                    self.hops_ms[i] if self.hops_ms else "",
                ])
        return path

    def summary(self) -> str:
        lat = self.latency_s[self.status == 200] * 1e3
        pct = (f"p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms"
               if lat.size else "no successful request")
        return (f"{len(self.workload)} requests in {self.wall_s:.1f} s: attainment {self.attainment:.4f}; "
                f"latency {pct}; outcomes {self.counts()}; max send lag {self.max_send_lag_s() * 1e3:.1f} ms")


def _fmt(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.3f}"


def request_lengths(workload: Workload, length: int | None) -> np.ndarray:
    """Tokens each request sends: ``length`` if given, else the workload's sizes if it has them
    (clipped to the model's sequence length), else each model's full sequence length."""
    seq = np.array([instance_spec(m).seq_len for m in workload.model_names])[workload.model_id]
    if length is not None:
        return np.minimum(np.full(len(workload), int(length)), seq)
    if workload.size is not None:
        return np.clip(workload.size, 1, seq)
    return seq


async def replay_async(url: str, workload: Workload, *, length: int | None = None, timeout_s: float = 60.0,
                       send_slo: bool = True) -> ReplayResult:
    """Send every request of ``workload`` to ``url`` at its arrival time; see the module docstring."""
    import aiohttp

    n = len(workload)
    lengths = request_lengths(workload, length)
    sent = np.full(n, np.nan)
    latency = np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int64)
    group = np.full(n, -1, dtype=np.int64)
    batch = np.zeros(n, dtype=np.int64)
    queue_ms = np.full(n, np.nan)
    server_ms = np.full(n, np.nan)
    reason = [""] * n
    stages = [""] * n
    hops = [""] * n
    base = url.rstrip("/")
    first_s = float(workload.arrival_s[0]) if n else 0.0

    async def one(session, i: int, t0: float) -> None:
        model = workload.model_names[workload.model_id[i]]
        body = {"input": {"length": int(lengths[i])}}
        if send_slo:
            body["slo_ms"] = float(workload.slo_s[i] * 1e3)
        start = time.perf_counter()
        sent[i] = start - t0
        try:
            # X-Request-Start: the server counts the deadline from the send, proxy queueing included.
            async with session.post(f"{base}/v1/models/{model}/infer", json=body,
                                    headers={"X-Request-Start": f"t={time.time():.6f}"}) as resp:
                raw = await resp.read()
                latency[i] = time.perf_counter() - start
                status[i] = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            reason[i] = f"transport: {type(exc).__name__}"
            return
        text = raw.decode("utf-8", "replace")
        data = _json_or_none(text)
        if not isinstance(data, dict):
            # Serve's proxy answers its own 503 (queue full) and 404 (no such route) in plain text
            reason[i] = "proxy" if status[i] == 503 else f"not-json: {text[:60].strip()!r}"
            return
        reason[i] = str(data.get("reason", ""))
        group[i] = int(data.get("group", -1) if data.get("group") is not None else -1)
        batch[i] = int(data.get("batch_size", 0))
        timing = data.get("timing_ms") or {}
        queue_ms[i] = float(timing.get("queue", math.nan))
        server_ms[i] = float(timing.get("total", math.nan))
        stages[i] = ",".join(f"{x:g}" for x in timing.get("stages", []))
        hops[i] = ",".join(f"{x:g}" for x in timing.get("hops", []))

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        tasks = []
        t0 = time.perf_counter()
        for i in range(n):
            delay = (workload.arrival_s[i] - first_s) - (time.perf_counter() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(session, i, t0 - first_s)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    return ReplayResult(workload, sent, latency, status, tuple(reason), group, batch, queue_ms,
                        tuple(stages), server_ms, wall, tuple(hops))


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


class ServerNotReady(RuntimeError):
    """The server did not become ready; the message says what was seen last and what to check."""


def readiness_problem(status: int | None, body: str, url: str, models) -> str | None:
    """None if ``GET /v1/models`` answered ``status``/``body`` as a ready server serving ``models``;
    else what is wrong (pure: the policy of ``wait_until_ready``, testable without a server)."""
    if status is None:
        return f"no answer from {url} ({body}); is the server started and the URL right?"
    if status == 404:
        return (f"{url}/v1/models answered 404 (the HTTP proxy has no such route): the app is not deployed "
                f"yet, or under another route prefix; check --url")
    if status != 200:
        return f"{url}/v1/models answered HTTP {status}: {body[:120].strip()!r}"
    data = _json_or_none(body)
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        return f"{url}/v1/models did not answer with this server's JSON ({body[:120].strip()!r}); check --url"
    served = {m.get("name") if isinstance(m, dict) else m for m in data["models"]}
    missing = [m for m in models if m not in served]
    if missing:
        return (f"{url} does not serve {', '.join(missing)} (serves: {', '.join(sorted(map(str, served)))}); "
                f"replay a workload of the served models")
    return None


def wait_until_ready(url: str, models, timeout_s: float = 60.0, poll_s: float = 0.5) -> None:
    """Poll ``GET {url}/v1/models`` until it lists every name in ``models``; raises
    ``ServerNotReady`` with the last problem after ``timeout_s``. A server that answers but does not
    serve a model fails at once (waiting will not help)."""
    import urllib.error
    import urllib.request

    base = url.rstrip("/")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/v1/models", timeout=5.0) as resp:
                status, body = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            status, body = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        problem = readiness_problem(status, body, base, list(models))
        if problem is None:
            return
        if status == 200 and "does not serve" in problem:
            raise ServerNotReady(problem)
        if time.monotonic() >= deadline:
            raise ServerNotReady(f"not ready after {timeout_s:g} s: {problem}")
        time.sleep(poll_s)


def replay(url: str, workload: Workload, **kwargs) -> ReplayResult:
    """Blocking ``replay_async``."""
    return asyncio.run(replay_async(url, workload, **kwargs))


def compare_with_simulator(result: ReplayResult, placement, profiles: Mapping, sim_options=None) -> dict:
    """Live vs simulated SLO attainment of the same placement and workload (overall and per model).

    Both sides count the same requests: with ``sim_options.warmup_s`` > 0 the requests arriving in
    the first ``warmup_s`` seconds are simulated (and were served) but left out of both attainments.
    Give the simulator the overheads the live path really has (``runtime.calibration``), or it
    compares a model of the stage compute alone with latencies measured at the client."""
    from alpa_serve_like.simulator import SimOptions, simulate
    from alpa_serve_like.simulator.run import measured_mask

    options = sim_options or SimOptions()
    sim = simulate(placement, result.workload, profiles, options)
    w = result.workload
    counted = measured_mask(w.arrival_s, options.warmup_s)
    good = result.good
    live = float(good[counted].mean()) if counted.any() else math.nan
    live_per = {name: float(good[counted & (w.model_id == i)].mean()) for i, name in enumerate(w.model_names)
                if np.any(counted & (w.model_id == i))}
    sim_per = sim.per_model_attainment
    return {
        "live": live, "simulated": float(sim.attainment),
        "difference": live - float(sim.attainment),
        "per_model": {m: {"live": live_per[m], "simulated": float(sim_per.get(m, math.nan))} for m in live_per},
        "simulated_rejected": sim.rejected,
        "live_outcomes": result.counts(),
        "counted_requests": int(counted.sum()),
        "warmup_s": float(options.warmup_s),
    }
