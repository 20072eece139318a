"""Simulator vs live SLO attainment: replay one workload against the runtime and simulate it.

Tiny models on this machine's CPU. Steps: (1) measure the models' stage latencies here (torch, one
thread) into a temporary profiling database, so runtime predictions and the simulator start from
the same numbers; (2) serve ``--placement`` with Ray Serve (CPU bundles) using that database;
(3) calibrate with a few sequential requests: the serving overheads (arrival -> stage 0, and the
per-stage actor hop) and each model's stage times as the stage actors see them while serving
(CPU contention makes them slower than in isolation), which both the runtime (its database and
scheduler options) and the simulator then use; (4) replay a
Gamma workload open loop and simulate the same placement on the same workload with the same
scheduling options. Target (issue 5): attainment within 0.03.

    .venv/bin/python benchmarks/bench_runtime_replay.py --rate 120 --duration 30 --slo-ms 60
"""
from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measured_database(models, path: Path, batch_sizes) -> None:
    import torch

    from alpa_serve_like.parallel_config import ParallelConfig
    from alpa_serve_like.profiling.database import ProfilingDatabase
    from alpa_serve_like.profiling.measure import measure_profile
    from alpa_serve_like.runtime.instances import base_model_name
    from alpa_serve_like.zoo import get_spec

    torch.set_num_threads(1)
    db = ProfilingDatabase()
    for base in sorted({base_model_name(m) for m in models}):
        db.add(measure_profile(get_spec(base), [ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)], batch_sizes,
                               device="cpu", warmup=5, repeats=15))
    db.save(path)


def calibrate(url: str, placement, n: int = 60) -> tuple[float, float, dict]:
    """Sequential requests: median (arrival -> dispatch), per-stage hop overhead, and each base
    model's median stage compute times as the stage actors see them on this machine."""
    import urllib.request

    from alpa_serve_like.runtime.instances import base_model_name

    queue, hop, stages = [], [], {}
    for i in range(n):
        model = placement.models[i % len(placement.models)]
        req = urllib.request.Request(f"{url}/v1/models/{model}/infer", method="POST",
                                     data=json.dumps({"input": {"length": 128}}).encode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            t = json.loads(resp.read())["timing_ms"]
        if i >= 2 * len(placement.models):
            queue.append(t["queue"] / 1e3)
            hop.append(t["overhead"] / 1e3 / len(t["stages"]))
            stages.setdefault(base_model_name(model), []).append([x / 1e3 for x in t["stages"]])
    return float(np.median(queue)), float(np.median(hop)), {m: np.median(v, axis=0) for m, v in stages.items()}


def calibrated_database(db_path: Path, stage_s: dict, out: Path) -> None:
    """The database with each model's stage latencies (every batch size, every pp) scaled by the
    ratio of the stage time seen while serving to the profiled batch-1 time of the served config."""
    from alpa_serve_like.parallel_config import ParallelConfig
    from alpa_serve_like.profile import ConfigProfile, ModelProfile
    from alpa_serve_like.profiling.database import ProfilingDatabase

    db = ProfilingDatabase.load(db_path)
    for name, seen in stage_s.items():
        p = db.get(name, "cpu")
        served = p.config(ParallelConfig(1, 1, len(seen))).latency_s(1)
        scale = float(np.sum(seen) / np.sum(served))
        configs = {c: ConfigProfile(c, {b: tuple(x * scale for x in lat) for b, lat in e.stage_latency_s.items()},
                                    e.weight_bytes, e.act_bytes) for c, e in p.configs.items()}
        db.add(ModelProfile(p.name, p.device, configs, p.spec, source="measured+served-calibration"))
    db.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--placement", default=str(ROOT / "examples" / "placement_tiny.json"))
    parser.add_argument("--rate", type=float, default=120.0, help="total requests per second")
    parser.add_argument("--cv", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--slo-ms", type=float, default=60.0)
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="replay_results.tsv")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import ray
    from ray import serve

    from alpa_serve_like.placement_spec import Placement
    from alpa_serve_like.runtime.profiles import instance_profiles, load_database
    from alpa_serve_like.runtime.replay import compare_with_simulator, replay
    from alpa_serve_like.serve import build_app
    from alpa_serve_like.simulator import SimOptions
    from alpa_serve_like.trace.synthetic import make_workload

    placement = Placement.load(args.placement)
    tmp = Path(tempfile.mkdtemp(prefix="bench_replay_"))
    db_path = tmp / "measured.pkl"
    t0 = time.time()
    measured_database(placement.models, db_path, batch_sizes=list(range(1, args.max_batch_size + 1)))
    print(f"measured profiles in {time.time() - t0:.1f} s")
    profiles = instance_profiles(placement.models, load_database(str(db_path)), "cpu")

    ray.init(address="local", num_cpus=4, include_dashboard=False, object_store_memory=200 * 1024**2,
             log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}"
    common = {"placement": args.placement, "device": "cpu", "database": str(db_path),
              "max_batch_size": args.max_batch_size}
    try:
        serve.run(build_app(common), name="calibrate", route_prefix="/")
        dispatch_s, hop_s, stage_s = calibrate(url, placement)
        serve.delete("calibrate")
        print(f"calibrated overheads: dispatch {dispatch_s * 1e3:.2f} ms, per stage {hop_s * 1e3:.2f} ms; "
              f"stage ms {({m: np.round(v * 1e3, 2).tolist() for m, v in stage_s.items()})}")
        calibrated_database(db_path, stage_s, tmp / "calibrated.pkl")
        common["database"] = str(tmp / "calibrated.pkl")
        profiles = instance_profiles(placement.models, load_database(common["database"]), "cpu")
        serve.run(build_app({**common, "dispatch_overhead_s": dispatch_s, "per_stage_overhead_s": hop_s}),
                  name="replay", route_prefix="/")
        calibrate(url, placement, n=3 * len(placement.models))  # warm the new actors
        workload = make_workload(list(placement.models), args.rate, args.duration, np.random.default_rng(args.seed),
                                 slo_s=args.slo_ms / 1e3, process="gamma", cv=args.cv, name="bench-replay")
        result = replay(url, workload, length=128)
    finally:
        serve.shutdown()
        ray.shutdown()
    result.write_tsv(args.out)
    print(result.summary())
    options = SimOptions(max_batch_size=args.max_batch_size, dispatch_overhead_s=dispatch_s,
                         per_stage_overhead_s=hop_s)
    cmp = compare_with_simulator(result, placement, profiles, options)
    cmp.update({"requests": len(workload), "rate": args.rate, "cv": args.cv, "slo_ms": args.slo_ms,
                "max_batch_size": args.max_batch_size, "dispatch_overhead_ms": dispatch_s * 1e3,
                "per_stage_overhead_ms": hop_s * 1e3, "max_send_lag_ms": result.max_send_lag_s() * 1e3})
    text = json.dumps(cmp, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
