"""The end-to-end demo: place tiny models on CPU "devices", serve them with Ray Serve, replay a real
trace, and compare what was measured with what the simulator predicts.

Steps (each prints a progress line):
1. traffic: ``demo_traffic`` (Azure LLM trace 2023 from ../shared/data, compressed to suit this
   machine; a labelled synthetic stand-in when the files are absent);
2. placement: ``mp-search`` on the training part, for ``num_devices`` devices carved out of the CPU
   (each a Ray bundle of ``cpu_per_device`` CPUs), with the shipped ``cpu`` profiles;
3. live: a local Ray on loopback only (no dashboard, no usage stats), the runtime's Serve app
   (``alpa_serve_like.serve.build_app``), a short warm-up that also measures the serving overhead
   the profiles do not contain, then the open-loop replay of the evaluation part;
4. prediction: the simulator on the same placement and requests, with and without that overhead;
5. outputs in ``out_dir``: placement.json, requests.tsv, summary.json, demo.png; then Serve and Ray
   are shut down.
If Ray or the runtime cannot be used, step 3 is skipped with a message and the rest still runs.
"""
from __future__ import annotations

import json
import math
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class DemoConfig:
    """Knobs of ``run_demo``; the defaults finish in under 3 minutes on 2 cores."""

    out_dir: str = "demo_out"
    duration_s: float = 30.0
    """Seconds of trace replayed against the live server."""
    rate: float = 25.0
    """Mean total requests per second of the replayed traffic (the trace is compressed to this)."""
    num_devices: int = 4
    cpu_per_device: float = 0.5
    """Logical CPUs each device's Ray bundle asks for."""
    ray_cpus: int = 4
    """Logical CPUs the local Ray advertises (fractional bundles share the real cores)."""
    memory_budget_mib: float = 16.0
    """Memory each CPU device may hold. Small on purpose: bert-mini's 13.6 MB of weights then fill a
    device, so the placement has to trade replicas against model parallelism as on real GPUs."""
    slo_ms: float = 100.0
    """SLO of every request (the tiny models compute in 1-8 ms; HTTP and actor hops add more)."""
    policy: str = "mp-search"
    trace_dir: str | None = None
    """Folder with the Azure LLM trace files (default: ../shared/data)."""
    live: bool = True
    """False: placement, simulation and plot only."""
    seed: int = 0
    warmup_requests: int = 40


@dataclass
class DemoReport:
    """What the demo measured and predicted (written as summary.json)."""

    traffic: str = ""
    placement: str = ""
    requests: int = 0
    live: dict = field(default_factory=dict)
    simulated: dict = field(default_factory=dict)
    simulated_with_overhead: dict = field(default_factory=dict)
    overhead_ms: float = math.nan
    live_error: str = ""
    seconds: dict = field(default_factory=dict)


def _metrics(good: np.ndarray, latency_s: np.ndarray) -> dict:
    lat = latency_s[np.isfinite(latency_s)] * 1e3
    pct = {f"p{q}_ms": float(np.percentile(lat, q)) if lat.size else math.nan for q in (50, 90, 99)}
    return {"attainment": float(good.mean()) if good.size else math.nan, "served": int(lat.size), **pct}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _warmup_workload(models, slo_s: np.ndarray, n: int):
    from alpa_serve_like.core.workload import Workload

    ids = np.arange(n, dtype=np.int32) % len(models)
    return Workload(0.05 * np.arange(n, dtype=np.float64), ids, slo_s[ids], tuple(models), meta={"name": "warm-up"})


def predicted_latency_s(placement, profiles, models, result) -> np.ndarray:
    """Profiled latency (batch 1) of each request on the group that served it (NaN if none)."""
    out = np.full(len(result.workload), np.nan)
    for i, (m, g) in enumerate(zip(result.workload.model_id, result.group)):
        if 0 <= g < len(placement.groups):
            entry = profiles[models[m]].configs.get(placement.groups[g].config)
            if entry is not None:
                out[i] = entry.total_latency_s(1)
    return out


def serve_and_replay(config: DemoConfig, placement_path: Path, placement, profiles, test, log):
    """Start Ray and the app, warm up, replay ``test``; returns (replay result, overhead s, seconds)."""
    from alpa_serve_like.client.replay import replay
    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.serve import build_app

    times = {}
    tic = time.perf_counter()
    log(f"starting a local Ray (loopback, {config.ray_cpus} logical CPUs) ...")
    ray = start_local_ray(config.ray_cpus, namespace="alpa_serve_like_demo")
    from ray import serve

    import logging

    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # importing serve set it to INFO
    try:
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        log(f"deploying the placement with Ray Serve on http://127.0.0.1:{port} ...")
        serve.run(build_app({"placement": str(placement_path), "device": "cpu",
                             "cpu_per_device": config.cpu_per_device}), name="demo", route_prefix="/")
        times["start_s"] = time.perf_counter() - tic
        url = f"http://127.0.0.1:{port}"
        warm = _warmup_workload(test.model_names, np.full(len(test.model_names), config.slo_ms / 1e3),
                                config.warmup_requests)
        log(f"warm-up: {len(warm)} requests, 20/s, to measure the serving overhead ...")
        w = replay(url, warm, timeout_s=30.0)
        pred = predicted_latency_s(placement, profiles, test.model_names, w)
        extra = (w.latency_s - pred)[len(warm) // 2:]  # the second half: past first-call costs
        extra = extra[np.isfinite(extra)]
        overhead_s = float(np.median(extra)) if extra.size else 0.0
        log(f"replaying {len(test)} requests over {config.duration_s:g} s (open loop) ...")
        tic = time.perf_counter()
        result = replay(url, test, timeout_s=30.0)
        times["replay_s"] = time.perf_counter() - tic
        return result, max(0.0, overhead_s), times
    finally:
        log("shutting down Serve and Ray ...")
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> DemoReport:
    """Run every step (module docstring); returns the report, also written to out_dir/summary.json."""
    from alpa_serve_like.core.hardware import cluster_spec
    from alpa_serve_like.placement import PlacementOptions, place
    from alpa_serve_like.placement.evaluate import policy_rng, summarize
    from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions, simulate
    from alpa_serve_like.demo.traffic import STREAMS, demo_traffic, env_trace_dir, find_trace_dir

    t_start = time.perf_counter()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = DemoReport()
    step = iter(range(1, 6))
    say = lambda text: log(f"[demo {next(step)}/5] {text}")

    models = [s[2] for s in STREAMS]
    profiles = instance_profiles(models, load_database(), "cpu")
    slo = np.full(len(models), config.slo_ms / 1e3)
    trace_dir = find_trace_dir(config.trace_dir or env_trace_dir())
    traffic = demo_traffic(trace_dir, config.duration_s, config.rate, slo, np.random.default_rng(config.seed))
    report.traffic, report.requests = traffic.source, len(traffic.test)
    say(f"traffic: {traffic.source}")
    log(f"        {len(traffic.train)} training requests, {len(traffic.test)} to replay "
        f"({len(traffic.test) / config.duration_s:.1f} req/s), SLO {config.slo_ms:g} ms")

    cluster = cluster_spec(config.num_devices, "cpu", devices_per_node=config.num_devices,
                           memory_budget_gib=config.memory_budget_mib / 1024)
    tic = time.perf_counter()
    placement = place(config.policy, cluster, models, profiles, traffic.train, PlacementOptions(),
                      policy_rng(config.seed, config.policy))
    from alpa_serve_like.core.slo import plan_slo_record
    from alpa_serve_like.placement.plan_context import plan_context
    from alpa_serve_like.scheduling.options import SchedulingOptions

    placement = placement.with_context(plan_context(cluster, SchedulingOptions(), plan_slo_record(models, slo, None),
                                                    load_database().fingerprint()))
    report.placement = summarize(placement)
    placement_path = out / "placement.json"
    placement.save(placement_path)
    report.seconds["placement_s"] = time.perf_counter() - tic
    say(f"placement ({config.policy}, {config.num_devices} CPU devices x {config.cpu_per_device:g} CPU): "
        + "; ".join(f"group {i} op{g.config.op} pp{g.config.pp}: {', '.join(g.models)}"
                    for i, g in enumerate(placement.groups)))

    result = None
    if not config.live:
        say("live serving: skipped (--no-live)")
    else:
        say("live serving with Ray Serve")
        try:
            result, overhead_s, times = serve_and_replay(config, placement_path, placement, profiles, traffic.test, log)
            report.seconds.update(times)
            report.overhead_ms = overhead_s * 1e3
            report.live = {**_metrics(result.good, np.where(result.status == 200, result.latency_s, np.nan)),
                           "outcomes": result.counts(), "max_send_lag_ms": result.max_send_lag_s() * 1e3}
            result.write_tsv(out / "requests.tsv")
        except ImportError as exc:
            report.live_error = f"live serving: not yet available ({exc}); install the [runtime] extra"
            log(report.live_error)
        except Exception as exc:  # report and keep the offline half of the demo
            report.live_error = f"live serving failed: {type(exc).__name__}: {exc}"
            log(report.live_error)

    say("simulator prediction on the same placement and requests")
    sims = {}
    for key, overhead in (("simulated", 0.0), ("simulated_with_overhead", report.overhead_ms / 1e3)):
        if key == "simulated_with_overhead" and not math.isfinite(overhead):
            continue
        sim = simulate(placement, traffic.test, profiles, SimOptions(SchedulingOptions(dispatch_overhead_s=overhead)))
        sims[key] = sim
        setattr(report, key, _metrics(sim.good, np.where(sim.reason == 0, sim.latency_s, np.nan)))
    _print_table(report, log)

    from alpa_serve_like.demo.plot import plot_demo

    png = plot_demo(out / "demo.png", traffic.test, result, sims, config.slo_ms, report)
    report.seconds["total_s"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps({"config": asdict(config), **asdict(report)}, indent=1, default=str))
    say(f"wrote {placement_path}, {png}, {out / 'summary.json'}" + (f", {out / 'requests.tsv'}" if result else ""))
    log(f"demo finished in {report.seconds['total_s']:.0f} s")
    return report


def _print_table(report: DemoReport, log) -> None:
    cols = [("live (Ray Serve)", report.live), ("simulator", report.simulated)]
    if report.simulated_with_overhead:
        cols.append((f"simulator + {report.overhead_ms:.1f} ms overhead", report.simulated_with_overhead))
    rows = [("SLO attainment", "attainment", lambda v: f"{100 * v:.2f}%"), ("p50 latency", "p50_ms", lambda v: f"{v:.1f} ms"),
            ("p90 latency", "p90_ms", lambda v: f"{v:.1f} ms"), ("p99 latency", "p99_ms", lambda v: f"{v:.1f} ms"),
            ("served", "served", lambda v: f"{v}")]
    width = max(len(c[0]) for c in cols) + 2
    log(" " * 16 + "".join(name.rjust(width) for name, _ in cols))
    for label, key, fmt in rows:
        cells = []
        for _, data in cols:
            v = data.get(key) if data else None
            cells.append((fmt(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else "-").rjust(width))
        log(label.ljust(16) + "".join(cells))
    if report.live_error:
        log(report.live_error)
    live_p99 = report.live.get("p99_ms", math.nan) if report.live else math.nan
    sim_p99 = (report.simulated_with_overhead or {}).get("p99_ms", math.nan)
    if live_p99 > 2 * sim_p99:
        log("note: the simulator knows the profiled compute and one constant overhead; the live tail also "
            "holds queueing in the serving stack itself (HTTP proxy, controller and stage actors sharing "
            "this machine's cores), which it does not model")
