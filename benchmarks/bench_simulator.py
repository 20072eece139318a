"""Simulator speed (issue 3 targets): simulated requests per second, first call vs repeated calls.

Cases (profiles: the v100-16gb entries of profiling_result.pkl if present, else synthetic ones):
  small  8 devices, 10 models, ~10k requests: 2 groups (op1,pp4), every model on both.
  large  64 devices, 72 models (12 copies of bert-1.3b, bert-2.6b, bert-6.7b, moe-1.3b, moe-2.4b,
         moe-5.3b), ~1M requests: 16 groups (op1,pp4) x 9 models, each model on 2 groups.
         Target: a repeated PlacementScorer.score call in under 0.5 s.
Traffic: Gamma arrivals (CV 4), power-law rates (alpha 0.5), SLO = 5 x single-device latency.
"first call" = PlacementScorer construction (workload arrays) + first score (tables + kernel,
including numba compilation when the on-disk cache is cold: run with --cold to force that).

Run:  .venv/bin/python benchmarks/bench_simulator.py [--case small|large|all] [--repeats 5] [--cold]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", choices=("small", "large", "all"), default="all")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cold", action="store_true", help="use an empty numba cache dir (measure JIT)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


ARGS = _parse()
if ARGS.cold:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")

import numpy as np  # noqa: E402

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig  # noqa: E402
from alpa_serve_like.core.plan import GroupPlacement, Placement  # noqa: E402
from alpa_serve_like.scheduling import SchedulingOptions  # noqa: E402
from alpa_serve_like.simulator import PlacementScorer, SimOptions, simulate  # noqa: E402
from alpa_serve_like.trace.synthetic import make_workload  # noqa: E402

BASES = ["bert-1.3b", "bert-2.6b", "bert-6.7b", "moe-1.3b", "moe-2.4b", "moe-5.3b"]
CASES = {
    "small": dict(groups=2, pp=4, copies_per_model=2, models=10, rate=20.0, duration=500.0),
    "large": dict(groups=16, pp=4, copies_per_model=2, models=72, rate=150.0, duration=6667.0),
}


def base_profiles() -> tuple[dict[str, ModelProfile], str]:
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    try:
        per_dev = ProfilingDatabase.load(default_database_path()).for_device("v100-16gb")
        if all(b in per_dev for b in BASES):
            return {b: per_dev[b] for b in BASES}, "profiling_result.pkl v100-16gb"
    except Exception as exc:  # the benchmark still runs on synthetic profiles
        print(f"(no usable database: {exc}; using synthetic profiles)")
    out = {}
    for i, b in enumerate(BASES):
        single = 0.05 * (i + 1)
        configs = {}
        for pp in (1, 2, 4, 8):
            cfg = ParallelConfig(1, 1, pp)
            configs[cfg] = ConfigProfile(cfg, {k: tuple([single * (1 + 0.3 * (k - 1)) / pp] * pp) for k in (1, 2, 4, 8)},
                                         tuple([1] * pp))
        out[b] = ModelProfile(b, "synthetic", configs, source="synthetic")
    return out, "synthetic"


def build_case(name: str, bases: dict[str, ModelProfile], rng: np.random.Generator):
    spec = CASES[name]
    names = [f"{BASES[i % len(BASES)]}-{i // len(BASES)}" for i in range(spec["models"])]
    profiles = {n: bases[n.rsplit("-", 1)[0]] for n in names}
    hosted: list[list[str]] = [[] for _ in range(spec["groups"])]
    slot = 0
    for n in names:  # each model on copies_per_model consecutive groups, round robin
        for c in range(spec["copies_per_model"]):
            hosted[(slot + c) % spec["groups"]].append(n)
        slot += spec["copies_per_model"]
    cfg = ParallelConfig(1, 1, spec["pp"])
    placement = Placement(tuple(GroupPlacement(cfg, tuple(h)) for h in hosted))
    slo = [5.0 * profiles[n].single_device_latency_s() for n in names]
    workload = make_workload(names, spec["rate"], spec["duration"], rng, slo_s=slo, process="gamma", cv=4.0,
                             split="power_law", alpha=0.5)
    return placement, workload, profiles


def bench(name: str, bases, options: SimOptions, label: str) -> None:
    placement, workload, profiles = build_case(name, bases, np.random.default_rng(ARGS.seed))
    n = len(workload)
    tic = time.perf_counter()
    scorer = PlacementScorer(workload, profiles, options)
    first = scorer.score(placement)
    first_s = time.perf_counter() - tic
    times = []
    for _ in range(ARGS.repeats):
        tic = time.perf_counter()
        scorer.score(placement)
        times.append(time.perf_counter() - tic)
    tic = time.perf_counter()
    full = simulate(placement, workload, profiles, options)
    full_s = time.perf_counter() - tic
    rep = float(np.median(times))
    print(f"{name:5s} {label:24s} {placement.num_devices:3d} dev {len(workload.model_names):3d} models "
          f"{n:>9,} req | first {first_s:7.3f} s ({n / first_s:>12,.0f} req/s) | repeated median "
          f"{rep:7.4f} s min {min(times):7.4f} s ({n / rep:>12,.0f} req/s) | simulate() {full_s:6.3f} s | "
          f"attainment {100 * first.attainment:6.2f}%")
    assert full.attainment == first.attainment


def main() -> int:
    bases, source = base_profiles()
    print(f"profiles: {source}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(default)')}")
    cases = ["small", "large"] if ARGS.case == "all" else [ARGS.case]
    variants = [
        (SimOptions(), "earliest_finish"),
        (SimOptions(SchedulingOptions(routing="shortest_queue")), "shortest_queue"),
        (SimOptions(SchedulingOptions(max_batch_size=8)), "earliest_finish batch<=8"),
    ]
    for name in cases:
        for options, label in variants:
            bench(name, bases, options, label)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
