"""Cluster simulator speed under queue disciplines: the stage-queue engine (srpt, edf, fcfs with
``queue_engine``) against the decide-at-arrival fcfs kernel, on the same placement and traffic.

Case: the discipline sweep's base point at full length (S3 = 12 x six models, 32 devices, MAF1
stand-in at 48 req/s, 1200 s of evaluation traffic) placed by mp-search. Each engine is warmed up
(numba compiled or loaded from its cache), then timed ``--repeats`` times alternately in this one
process; the minimum CPU time of each is printed (the machine is shared: CPU time, not wall-clock).

Run:  .venv/bin/python benchmarks/bench_disciplines.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from alpa_serve_like.osdi_artifact import suites
    from alpa_serve_like.osdi_artifact.policies import run
    from alpa_serve_like.osdi_artifact.workloads import TraceSources, build_case
    from alpa_serve_like.placement import PlacementOptions
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions, simulate

    case = suites.Case("disciplines", "S3", "maf1", 32, 48.0, 1200.0, time_budget_s=2.0)
    cluster, models, profiles, train, test = build_case(case, TraceSources())
    placement, _ = run(suites.ALPASERVE, cluster, models, profiles, train, test, PlacementOptions(time_budget_s=2.0), 0)
    print(f"{len(test):,} requests on {placement.summary()}")
    engines = {d: SimOptions(scheduling=SchedulingOptions(discipline=d)) for d in ("fcfs", "srpt", "edf")}
    engines["fcfs (queue engine)"] = SimOptions(queue_engine=True)
    attainment = {name: simulate(placement, test, profiles, o).attainment for name, o in engines.items()}
    cpu_s = {name: [] for name in engines}
    for _ in range(args.repeats):
        for name, o in engines.items():
            tic = time.process_time()
            simulate(placement, test, profiles, o)
            cpu_s[name].append(time.process_time() - tic)
    for name in engines:
        print(f"{name:20s} min CPU {1e3 * min(cpu_s[name]):7.1f} ms   attainment {100 * attainment[name]:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
