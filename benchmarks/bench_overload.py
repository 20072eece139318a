"""Overload benchmark: does the live server keep its SLO promise when offered more than it can serve?

Serves the default app (``serve run alpa_serve_like.serve:app device=cpu``: a placement planned at
start-up for ``bert-tiny:2`` on 2 devices) in a local Ray Serve on this machine, behind the front
end ``alpa-serve-like serve`` uses (``--serve-proxy``, below), then, from an
open-loop Poisson client in this process (``alpa_serve_like.client.replay``):

1. warms up at a low rate (results dropped);
2. finds the clean rate R: rates ``--start-rate`` x ``--step`` x ... for ``--probe-s`` seconds
   each, until attainment over all requests falls below ``--clean``; R is the last rate above it;
3. offers R, 2R and 5R for ``--duration-s`` seconds each.

Per phase, all measured by the client: outcomes by HTTP status, hangs (no answer within
``--timeout-s``), admitted attainment (answered 200 within the SLO / answered 200), goodput
(answered 200 within the SLO per second of the phase), p50/p99 latency of 200s and the client's
largest send lag (a large one means the client, not the server, fell behind), the way back from the
controller to the client (client latency minus the server's own). Targets (issue 10):
0 hangs; admitted attainment >= 0.99 at 2R and 5R; goodput at 5R >= 0.9 x goodput at R.

Where the CPU went, per phase (``cpu``): cores used by the client (this process), by each kind of
Ray process of this cluster (Serve's HTTP proxy, the controller replica, the stage actors, the rest)
and by the whole machine (``/proc/stat``: other sessions included), plus the 1-minute load average
at the phase's end, the server's delay from the client's send stamp to the handler (``ingress_ms``,
the controller's running mean at the phase's end: time held in the client's send queue, the kernel
and Serve's proxy) and admission's margin then (``margin_ms``, ``runtime.overheads``).

Serve's own limits move the shedding into its proxy: ``--option max_ongoing_requests=48 --option
max_queued_requests=8`` (README: measured with these and tighter ones).

``--serve-proxy haproxy|direct`` starts Ray with Serve's HAProxy or direct-ingress flag
(``runtime/serve_proxy.py``): HAProxy, or the ingress replica's own port, takes HTTP instead of
Serve's Python proxy (README: measured with each); ``--serve-proxy default`` is Serve's Python
proxy, as ``serve run`` has it. The default, ``gate``, is the front end of ``alpa-serve-like serve``:
our own HAProxy (``runtime/haproxy_gate.py``) in front of the replica's own port, forwarding at
most ``max_conn`` requests at a time and answering the excess with 503 itself; ``--gate KEY=VALUE``
sets its ``GateOptions`` (``--gate max_conn=16 --gate queue_timeout_ms=30``).

Benchmark: not part of any test run; Ray starts here, so run it under the shared lock:

    .venv/bin/python benchmarks/bench_overload.py --json /tmp/overload.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import time

import numpy as np

from alpa_serve_like.cli.serve_cmd import key_values
from alpa_serve_like.runtime.haproxy_gate import GateOptions, HAProxyGate
from alpa_serve_like.runtime.serve_proxy import SERVE_PROXIES
from bench_report import emit_report  # noqa: E402 (benchmarks/)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_KINDS = (("ray::ProxyActor", "proxy"), ("ray::HAProxyManager", "haproxy_manager"),
          ("ray::ServeReplica", "controller_replica"), ("ray::StageWorker", "stage_actors"))


def ray_process_kinds() -> dict[int, str]:
    """This machine's Ray worker processes by kind (their process titles start ``ray::``) and
    HAProxy's; run under the shared lock, so they are this benchmark's cluster."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::"):
            out[int(pid)] = next((kind for prefix, kind in _KINDS if title.startswith(prefix)), "other_ray")
        elif title.endswith("/haproxy"):  # Serve's HAProxy (``--serve-proxy haproxy``), not a Ray worker
            out[int(pid)] = "haproxy"
    return out


def cpu_seconds(kinds: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) used so far: per kind of Ray process, by this process (the
    client) and by the whole machine (every core's busy time)."""
    out = {kind: 0.0 for kind in set(kinds.values())}
    for pid, kind in kinds.items():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[kind] += (int(fields[11]) + int(fields[12])) * _TICK_S
        except (OSError, IndexError, ValueError):
            pass  # the process ended: its time is lost to the figure
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["client"] = me.ru_utime + me.ru_stime
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    out["machine"] = (sum(ticks) - ticks[3] - ticks[4]) * _TICK_S  # all but idle and iowait
    return out


def server_stats(url: str) -> dict:
    import urllib.request

    return json.loads(urllib.request.urlopen(f"{url}/v1/stats", timeout=30).read())


def phase(url: str, models, rate: float, duration_s: float, slo_s: float, seed: int, timeout_s: float) -> dict:
    """One open-loop Poisson phase at ``rate`` req/s; returns the client-measured figures."""
    from alpa_serve_like.client.replay import replay
    from alpa_serve_like.trace.synthetic import make_workload

    workload = make_workload(list(models), rate, duration_s, np.random.default_rng(seed), slo_s=slo_s,
                             process="poisson")
    kinds = ray_process_kinds()
    # no learned overheads with overhead_alpha=0: the ingress and margin figures are then None
    before_ingress = (server_stats(url).get("overheads") or {}).get("ingress", {})
    before_cpu, t0 = cpu_seconds(kinds), time.monotonic()
    r = replay(url, workload, timeout_s=timeout_s)
    after_cpu, wall_s = cpu_seconds(kinds), time.monotonic() - t0
    overheads = server_stats(url).get("overheads") or {}
    after_ingress = overheads.get("ingress", {})
    after_margin = ((overheads.get("residual") or {}).get("predicted_ms")
                    or (overheads.get("margin") or {}).get("predicted_ms"))
    ok = r.status == 200
    good = r.good
    lat_ms = r.latency_s[ok] * 1e3
    way_back_ms = lat_ms - r.server_total_ms[ok]
    return {
        "rate": round(rate, 2), "requests": len(workload), "duration_s": duration_s,
        "wall_s": round(wall_s, 1),  # until the last answer: a long tail means a backlog drained
        "outcomes": r.counts(),
        "hangs": int(np.sum(r.status == 0)),
        "answered_200": int(ok.sum()),
        "attainment": round(float(good.mean()), 4) if len(good) else None,
        "admitted_attainment": round(float(good[ok].mean()), 4) if ok.any() else None,
        "goodput_rps": round(float(good.sum()) / duration_s, 2),
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if lat_ms.size else None,
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if lat_ms.size else None,
        "max_send_lag_ms": round(r.max_send_lag_s() * 1e3, 1),
        # the way back (controller -> proxy -> client), which the server cannot see: the client's
        # latency minus the server's (both from the client's send stamp, one machine's clock)
        "way_back_p50_ms": round(float(np.nanpercentile(way_back_ms, 50)), 1) if way_back_ms.size else None,
        "way_back_p99_ms": round(float(np.nanpercentile(way_back_ms, 99)), 1) if way_back_ms.size else None,
        "cpu_cores": {k: round((after_cpu[k] - before_cpu[k]) / wall_s, 2) for k in sorted(after_cpu)},
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "ingress_ms": round(after_ingress["mean_ms"], 1) if after_ingress else None,
        "ingress_samples": after_ingress.get("samples", 0) - before_ingress.get("samples", 0),
        "margin_ms": after_margin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slo-ms", type=float, default=200.0)
    parser.add_argument("--start-rate", type=float, default=20.0)
    parser.add_argument("--step", type=float, default=1.5, help="rate multiplier between probes")
    parser.add_argument("--probe-s", type=float, default=6.0)
    parser.add_argument("--clean", type=float, default=0.99, help="attainment a clean rate keeps")
    parser.add_argument("--duration-s", type=float, default=12.0)
    parser.add_argument("--timeout-s", type=float, default=30.0, help="a request unanswered this long hangs")
    parser.add_argument("--rate", type=float, help="skip the search and use this clean rate R")
    parser.add_argument("--option", action="append", default=[], help="extra app argument KEY=VALUE")
    parser.add_argument("--serve-proxy", choices=SERVE_PROXIES, default="gate",
                        help="HTTP front end: Serve's Python proxy, Serve's HAProxy, direct ingress (the "
                             "client calls the ingress replica's own port), or (default) our HAProxy gate in "
                             "front of it, as `alpa-serve-like serve` runs by default")
    parser.add_argument("--gate", action="append", default=[], metavar="KEY=VALUE",
                        help="a GateOptions field of --serve-proxy gate (runtime/haproxy_gate.py)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    gate_options = GateOptions.from_args({**key_values(args.gate, "--gate"), "port": free_port()})
    if args.gate and args.serve_proxy != "gate":
        parser.error("--gate needs --serve-proxy gate")

    from ray import serve

    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.runtime.serve_proxy import ingress_urls
    from alpa_serve_like.serve import build_app

    ray = start_local_ray(num_cpus=4, serve_proxy=args.serve_proxy)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app_args = {"device": "cpu", **dict(kv.split("=", 1) for kv in args.option)}
    serve.run(build_app(app_args), name="default", route_prefix="/")
    url, gate = ingress_urls("default")[0], None
    if args.serve_proxy == "gate":
        gate = HAProxyGate(gate_options, ingress_urls("default")).start()
        url = gate.url
    models = ("bert-tiny-0", "bert-tiny-1")
    slo_s = args.slo_ms / 1e3
    report = {"app_args": app_args, "serve_proxy": args.serve_proxy, "url": url, "slo_ms": args.slo_ms,
              "gate": gate_options.__dict__ if gate else None,
              "probes": [], "phases": {}}
    try:
        phase(url, models, args.start_rate / 2, 3.0, slo_s, 99, args.timeout_s)  # warm-up, dropped
        clean = args.rate
        if clean is None:
            rate, seed = args.start_rate, 1
            while True:
                probe = phase(url, models, rate, args.probe_s, slo_s, seed, args.timeout_s)
                report["probes"].append(probe)
                print("probe", json.dumps(probe), flush=True)
                if probe["attainment"] is None or probe["attainment"] < args.clean:
                    break
                clean, rate, seed = rate, rate * args.step, seed + 1
            if clean is None:
                raise SystemExit(f"even {args.start_rate} req/s is not clean; lower --start-rate")
        report["clean_rate"] = clean
        for name, factor in (("R", 1), ("2R", 2), ("5R", 5)):
            out = phase(url, models, clean * factor, args.duration_s, slo_s, 100 + factor, args.timeout_s)
            report["phases"][name] = out
            print(name, json.dumps(out), flush=True)
        stats = server_stats(url)
        report["server"] = {k: stats.get(k) for k in ("overheads", "dropped_at_dispatch", "controller_imported_torch")}
    finally:
        if gate is not None:
            gate.stop()
        serve.shutdown()
        ray.shutdown()
    p = report["phases"]
    report["goodput_5R_over_R"] = round(p["5R"]["goodput_rps"] / p["R"]["goodput_rps"], 3) if p["R"]["goodput_rps"] else None
    emit_report(report, args.json)


if __name__ == "__main__":
    main()
