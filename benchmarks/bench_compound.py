"""Compound-optimizer solve time at the issue-15 scale: 10 tasks on 64 GPUs (target < 30 s).

The application (ours, synthetic): a root, two branches of four tasks with fan-outs 1-3, and a
sink joining them; each task has three zoo variants (moe-1.3b/2.4b/5.3b or bert-1.3b/2.6b/6.7b with
made-up accuracies), product composition. Times are wall-clock on this machine; HiGHS stops at
``--time-limit-s`` and the plan then reports ``optimal=False`` with its proven ``mip_gap``.

Run:  .venv/bin/python benchmarks/bench_compound.py [--gpus 64] [--slo-s 1.5] [--accuracy-slo 0.3]
      [--wait-tail-probability 0.0005 --latency-headroom 0.65]   (the queueing-aware form)
"""
from __future__ import annotations

import argparse
import time

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.optimizer import OptimizerOptions, max_demand, min_resources
from alpa_serve_like.compound.slice_table import option_table
from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

MOE = (("moe-1.3b", 0.85), ("moe-2.4b", 0.90), ("moe-5.3b", 0.94))
BERT = (("bert-1.3b", 0.87), ("bert-2.6b", 0.91), ("bert-6.7b", 0.95))


def ten_task_app(slo_s: float, accuracy_slo: float) -> CompoundApp:
    variants = lambda family: tuple(Variant(m, a) for m, a in family)
    tasks = [Task("root", variants(MOE))]
    for branch in range(2):
        parent = "root"
        for j in range(4):
            name = f"b{branch}_{j}"
            tasks.append(Task(name, variants(BERT if (branch + j) % 2 else MOE), 1 + j % 3, (parent,)))
            parent = name
    tasks.append(Task("sink", variants(BERT), 1, ("b0_3", "b1_3")))
    return CompoundApp("ten-task", tuple(tasks), slo_s=slo_s, accuracy_slo=accuracy_slo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=64)
    parser.add_argument("--slo-s", type=float, default=1.5)
    parser.add_argument("--accuracy-slo", type=float, default=0.3)
    parser.add_argument("--time-limit-s", type=float, default=25.0)
    parser.add_argument("--wait-tail-probability", type=float, default=None,
                        help="solve the queueing-aware form (OptimizerOptions.wait_tail_probability)")
    parser.add_argument("--latency-headroom", type=float, default=1.0)
    args = parser.parse_args()
    db = ProfilingDatabase.load(default_database_path())
    app = ten_task_app(args.slo_s, args.accuracy_slo)
    options = option_table(app, db, "a100-80gb")
    opts = OptimizerOptions(time_limit_s=args.time_limit_s, wait_tail_probability=args.wait_tail_probability,
                            latency_headroom=args.latency_headroom)
    print(f"{len(app.tasks)} tasks, {len(options)} options, {args.gpus} GPUs")
    ok = True
    t0 = time.perf_counter()
    best = max_demand(app, options, args.gpus, opts)
    wall = time.perf_counter() - t0
    print(f"max_demand: {best.demand_rps:.2f} rps, optimal={best.optimal}, gap={best.mip_gap:.3f}, {wall:.1f} s")
    ok &= wall < 30.0
    t0 = time.perf_counter()
    half = min_resources(app, options, best.demand_rps / 2, args.gpus, opts)
    wall = time.perf_counter() - t0
    print(f"min_resources at {best.demand_rps / 2:.2f} rps: {half.slices_used} slices, "
          f"optimal={half.optimal}, gap={half.mip_gap:.3f}, {wall:.1f} s")
    ok &= wall < 30.0
    print("PASS" if ok else "FAIL: a solve took 30 s or more")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
