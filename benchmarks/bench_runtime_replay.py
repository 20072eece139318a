"""Simulator vs live SLO attainment: replay one workload against the runtime and simulate it.

Tiny models on this machine's CPU. Steps: (1) measure the models' stage latencies here (torch, one
thread) into a temporary profiling database; (2) serve ``--placement`` with Ray Serve (CPU
bundles) using that database; (3) calibrate under load: replay a separate Gamma workload (another
seed, the same rate, no SLO so nothing is rejected) and take from its answers the medians of the
HTTP proxy time, controller queue time, per-stage hop time and each model's stage compute as the
stage actors saw it while serving (``runtime.calibration``). On a 2-core machine all of these are
about twice their values for sequential requests, because client, proxy, controller and stage
actors compete for the cores; (4) serve again with the calibrated database and overheads (the
controller's admission then predicts the latency the client sees) and replay the measured
workload open loop; (5) simulate the same placement on the same workload with the same
scheduling options and overheads, leaving the same first ``--warmup`` seconds out of both
attainments; (6) read the server's own counters from Ray's Prometheus export port (what a
scraper sees: ``client.prometheus``) and put them next to the client's counts. Target (issue 5): attainment within 0.03; issue 10: within 0.02 over 0.25R-1.5R
(``--rates``: replay and compare at each of these total rates, after calibrating at ``--rate``).

    .venv/bin/python benchmarks/bench_runtime_replay.py --placement examples/placement_replay_pp2.json \
        --rate 10 --cv 2 --duration 30 --slo-ms 150
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_overheads(url: str) -> dict:
    """The overheads (seconds) the server's admission predicts with now (``/v1/stats``)."""
    import urllib.request

    stats = json.loads(urllib.request.urlopen(f"{url}/v1/stats", timeout=30).read())
    learned = stats.get("overheads") or {}
    out = {k: learned.get(k, {}).get("predicted_ms", 0.0) / 1e3 for k in ("dispatch", "hop", "response")}
    if not learned.get("hop", {}).get("samples"):
        out["hop"] = out["response"]  # pp=1: the server uses the response overhead per stage
    # What admission added after the last stage's predicted finish (runtime.overheads): the
    # residual quantile and the way back, or (no residual in its window) the quadrature margin.
    residual = learned.get("residual") or {}
    if residual.get("in_use"):
        out["after_last"] = (residual["predicted_ms"] / 1e3) + out["response"]
    else:
        out["after_last"] = 2 * out["response"] + learned.get("margin", {}).get("predicted_ms", 0.0) / 1e3 - out["hop"]
    out["after_last"] = max(0.0, out["after_last"])
    return out


def measured_database(models, path: Path, batch_sizes) -> None:
    import torch

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.profiling.database import ProfilingDatabase
    from alpa_serve_like.models.measure import measure_profile
    from alpa_serve_like.core.instances import base_model_name
    from alpa_serve_like.core.zoo import get_spec

    torch.set_num_threads(1)
    db = ProfilingDatabase()
    for base in sorted({base_model_name(m) for m in models}):
        db.add(measure_profile(get_spec(base), [ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)], batch_sizes,
                               device="cpu", warmup=5, repeats=15))
    db.save(path)


def warm(url: str, placement, rounds: int = 3) -> None:
    """A few sequential requests per model, so new stage actors pay their first-call costs now."""
    import urllib.request

    for i in range(rounds * len(placement.models)):
        model = placement.models[i % len(placement.models)]
        req = urllib.request.Request(f"{url}/v1/models/{model}/infer", method="POST",
                                     data=json.dumps({"input": {"length": 128}}).encode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()


def calibrated_database(db_path: Path, stage_s: dict, out: Path) -> None:
    """The database with each model's stage latencies (every batch size) matched to the stage times
    seen while serving: stage by stage for the served pipeline depth, and by the ratio of the
    totals for the other depths."""
    from alpa_serve_like.client.calibration import calibrated_profile
    from alpa_serve_like.profiling.database import ProfilingDatabase

    db = ProfilingDatabase.load(db_path)
    for name, seen in stage_s.items():
        db.add(calibrated_profile(db.get(name, "cpu"), seen))
    db.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--placement", default=str(ROOT / "examples" / "placement_replay_pp2.json"))
    parser.add_argument("--rate", type=float, default=10.0, help="total requests per second")
    parser.add_argument("--rates", default="", help="comma-separated rates to replay after calibrating at "
                                                    "--rate (default: --rate only)")
    parser.add_argument("--cv", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--slo-ms", type=float, default=150.0)
    parser.add_argument("--calibration-s", type=float, default=15.0,
                        help="length of the calibration replay (same rate, another seed, no SLO)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds at the start of each replay left out of calibration and attainment")
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="replay_results.tsv")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import ray
    from ray import serve

    from alpa_serve_like.core.plan import Placement
    from alpa_serve_like.client.calibration import calibrate_from_replay
    from alpa_serve_like.client.prometheus import metrics_urls, wait_for_app_totals
    from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
    from alpa_serve_like.client.replay import compare_with_simulator, replay
    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.serve import build_app
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions
    from alpa_serve_like.trace.synthetic import make_workload

    placement = Placement.load(args.placement)
    tmp = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    db_path = tmp / "measured.pkl"
    t0 = time.time()
    measured_database(placement.models, db_path, batch_sizes=list(range(1, args.max_batch_size + 1)))
    print(f"measured profiles in {time.time() - t0:.1f} s")
    profiles = instance_profiles(placement.models, load_database(str(db_path)), "cpu")

    start_local_ray(num_cpus=4)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}"
    common = {"placement": args.placement, "device": "cpu", "database": str(db_path),
              "max_batch_size": args.max_batch_size}
    rng = np.random.default_rng(args.seed)
    calib_seed, replay_seed = rng.integers(2**31, size=2)

    def gamma_workload(seed, duration_s, slo_s, rate=args.rate):
        return make_workload(list(placement.models), rate, duration_s, np.random.default_rng(seed),
                             slo_s=slo_s, process="gamma", cv=args.cv, name="bench-replay")

    rates = [float(r) for r in args.rates.split(",") if r.strip()] or [args.rate]
    results, learned = {}, {}

    try:
        serve.run(build_app(common), name="calibrate", route_prefix="/")
        warm(url, placement)
        calib_run = replay(url, gamma_workload(calib_seed, args.calibration_s, 60.0), length=128, send_slo=False)
        serve.delete("calibrate")
        calib = calibrate_from_replay(calib_run, skip_s=args.warmup)
        print(f"calibration replay: {calib_run.summary()}")
        print(f"calibrated under load: {calib.describe()}")
        calibrated_database(db_path, calib.stage_s, tmp / "calibrated.pkl")
        common["database"] = str(tmp / "calibrated.pkl")
        profiles = instance_profiles(placement.models, load_database(common["database"]), "cpu")
        serve.run(build_app({**common, "dispatch_overhead_s": calib.dispatch_overhead_s,
                             "per_stage_overhead_s": calib.per_stage_overhead_s}), name="replay", route_prefix="/")
        warm(url, placement)
        for rate in rates:
            workload = gamma_workload(replay_seed, args.duration, args.slo_ms / 1e3, rate)
            results[rate] = (workload, replay(url, workload, length=128))
            learned[rate] = server_overheads(url)
            print(f"rate {rate:g}: {results[rate][1].summary()}; learned {learned[rate]}", flush=True)
        # every replayed request plus warm()'s; Serve's proxy may shed some before the controller counts them
        answered = sum(len(w) for w, _ in results.values()) + 3 * len(placement.models)
        prometheus = wait_for_app_totals(metrics_urls(), "replay", answered)
        prometheus["client"] = {"sent": answered, "warm_up": 3 * len(placement.models), "ok": int(sum((r.status == 200).sum() for _, r in results.values())),
                                "slo_met": int(sum(r.good.sum() for _, r in results.values()))}
        print(f"Prometheus counters of the replay app: {prometheus}", flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()
    scheduling = SchedulingOptions(max_batch_size=args.max_batch_size, dispatch_overhead_s=calib.dispatch_overhead_s,
                                   per_stage_overhead_s=calib.per_stage_overhead_s)
    options = SimOptions(scheduling, warmup_s=args.warmup)
    sweep = []
    for rate, (_, res) in results.items():
        c = compare_with_simulator(res, placement, profiles, options)
        # The same simulation with the overheads the server had learned by the end of this replay
        # (what its admission predicted with); the response beyond a hop goes into the dispatch.
        lo = learned[rate]
        with_learned = SimOptions(SchedulingOptions(
            max_batch_size=args.max_batch_size,
            dispatch_overhead_s=max(calib.dispatch_overhead_s, lo["dispatch"]) + max(0.0, lo["response"] - lo["hop"]),
            per_stage_overhead_s=max(calib.per_stage_overhead_s, lo["hop"])), warmup_s=args.warmup)
        cl = compare_with_simulator(res, placement, profiles, with_learned)
        # And with the live admission's rule too: what it added after the last stage (margin
        # included) as the simulator's finish overhead, so both reject the same requests.
        with_admission = SimOptions(replace(with_learned.scheduling, finish_overhead_s=lo["after_last"]),
                                    warmup_s=args.warmup)
        ca = compare_with_simulator(res, placement, profiles, with_admission)
        sweep.append({"rate": rate, "live": c["live"], "simulated": c["simulated"], "difference": c["difference"],
                      "simulated_learned": cl["simulated"], "difference_learned": cl["difference"],
                      "simulated_admission": ca["simulated"], "difference_admission": ca["difference"]})
    workload, result = results[rates[-1]] if len(rates) > 1 else results[rates[0]]
    result.write_tsv(args.out)
    print(result.summary())
    cmp = compare_with_simulator(result, placement, profiles, options)
    if len(rates) > 1:
        cmp["sweep"] = sweep
    # What the same replay saw (not used above): how far its own overheads drifted from calibration.
    seen = calibrate_from_replay(result, skip_s=args.warmup)
    cmp.update({"placement": args.placement, "requests": len(workload), "rate": rates[-1], "cv": args.cv,
                "slo_ms": args.slo_ms, "duration_s": args.duration, "seed": args.seed,
                "max_batch_size": args.max_batch_size, "calibration": calib.to_dict(), "prometheus": prometheus,
                "seen_in_replay": seen.to_dict(), "max_send_lag_ms": result.max_send_lag_s() * 1e3,
                "load_average": list(os.getloadavg())})
    text = json.dumps(cmp, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
