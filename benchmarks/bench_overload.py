"""Overload benchmark: does the live server keep its SLO promise when offered more than it can serve?

Serves the default app (``serve run alpa_serve_like.serve:app device=cpu``: a placement planned at
start-up for ``bert-tiny:2`` on 2 devices) in a local Ray Serve on this machine, then, from an
open-loop Poisson client in this process (``alpa_serve_like.client.replay``):

1. warms up at a low rate (results dropped);
2. finds the clean rate R: rates ``--start-rate`` x ``--step`` x ... for ``--probe-s`` seconds
   each, until attainment over all requests falls below ``--clean``; R is the last rate above it;
3. offers R, 2R and 5R for ``--duration-s`` seconds each.

Per phase, all measured by the client: outcomes by HTTP status, hangs (no answer within
``--timeout-s``), admitted attainment (answered 200 within the SLO / answered 200), goodput
(answered 200 within the SLO per second of the phase), p50/p99 latency of 200s and the client's
largest send lag (a large one means the client, not the server, fell behind). Targets (issue 10):
0 hangs; admitted attainment >= 0.99 at 2R and 5R; goodput at 5R >= 0.9 x goodput at R.

Benchmark: not part of any test run; Ray starts here, so run it under the shared lock:

    .venv/bin/python benchmarks/bench_overload.py --json /tmp/overload.json
"""
from __future__ import annotations

import argparse
import json
import socket

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def phase(url: str, models, rate: float, duration_s: float, slo_s: float, seed: int, timeout_s: float) -> dict:
    """One open-loop Poisson phase at ``rate`` req/s; returns the client-measured figures."""
    from alpa_serve_like.client.replay import replay
    from alpa_serve_like.trace.synthetic import make_workload

    workload = make_workload(list(models), rate, duration_s, np.random.default_rng(seed), slo_s=slo_s,
                             process="poisson")
    r = replay(url, workload, timeout_s=timeout_s)
    ok = r.status == 200
    good = r.good
    lat_ms = r.latency_s[ok] * 1e3
    return {
        "rate": round(rate, 2), "requests": len(workload), "duration_s": duration_s,
        "outcomes": r.counts(),
        "hangs": int(np.sum(r.status == 0)),
        "answered_200": int(ok.sum()),
        "attainment": round(float(good.mean()), 4) if len(good) else None,
        "admitted_attainment": round(float(good[ok].mean()), 4) if ok.any() else None,
        "goodput_rps": round(float(good.sum()) / duration_s, 2),
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if lat_ms.size else None,
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if lat_ms.size else None,
        "max_send_lag_ms": round(r.max_send_lag_s() * 1e3, 1),
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
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import ray
    from ray import serve

    from alpa_serve_like.serve import build_app

    ray.init(address="local", num_cpus=4, include_dashboard=False, object_store_memory=200 * 1024**2,
             log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app_args = {"device": "cpu", **dict(kv.split("=", 1) for kv in args.option)}
    serve.run(build_app(app_args), name="default", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    models = ("bert-tiny-0", "bert-tiny-1")
    slo_s = args.slo_ms / 1e3
    report = {"app_args": app_args, "slo_ms": args.slo_ms, "probes": [], "phases": {}}
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
        stats = json.loads(__import__("urllib.request").request.urlopen(f"{url}/v1/stats", timeout=30).read())
        report["server"] = {k: stats.get(k) for k in ("overheads", "dropped_at_dispatch", "controller_imported_torch")}
    finally:
        serve.shutdown()
        ray.shutdown()
    p = report["phases"]
    report["goodput_5R_over_R"] = round(p["5R"]["goodput_rps"] / p["R"]["goodput_rps"], 3) if p["R"]["goodput_rps"] else None
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
