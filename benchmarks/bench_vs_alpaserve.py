"""Our simulator side by side with AlpaServe's own (issue 12): same placement, same requests.

AlpaServe's simulator (alpa-projects/mms, ``alpa_serve/simulator/controller.py``:
``approximate_one_case_one_placement``, which builds its tables and runs the numba loop
``simulate_requests_mixed``) is imported from a checkout given by ``--alpaserve-path`` (the folder
holding its ``alpa_serve`` package); nothing of it is copied here. Its modules import ray,
starlette and uvicorn at top level, which this project's environment already has, so no shim is
needed; alpa itself is not imported by the simulator path.

Cases (profiles: the v100-16gb entries of the shipped database, derived from BERT-1.3B):
  mp32-1m, mp32-130k  issue 12's mp-search placement of 32 devices / 60 models (``mp32_case.py``),
                      scored on ~1.02M / ~130k held-out requests.
  many32              32 one-device groups, each of the 60 models on two neighbouring groups,
                      ~12.8k requests (200 s of the same traffic).
For each case both simulators score the placement; ours under ``--rules alpaserve``
(``scheduling.presets``) must agree with AlpaServe's attainment to 0.002 (the run fails otherwise),
and ours under the default rules is shown for contrast. Times are medians of interleaved repeats:
AlpaServe's call (tables + loop), its loop alone, and our ``PlacementScorer.score`` (tables + loop)
with 1 and 2 threads; wall-clock, and CPU of the calling thread. Attainment is over all requests
(no warm-up trimming in either). The machine is shared: the load average is printed.

Run:  .venv/bin/python benchmarks/bench_vs_alpaserve.py --alpaserve-path /tmp/mms [--case all] [--repeats 9]
(``--alpaserve-path`` is a checkout of github.com/alpa-projects/mms, e.g. ``git clone`` it to /tmp/mms.)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from mp32_case import DURATION_S, MIXED, build_mp32_case  # benchmarks/

TOLERANCE = 0.002


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alpaserve-path", required=True, metavar="DIR",
                   help="folder holding AlpaServe's alpa_serve package (a checkout of alpa-projects/mms)")
    p.add_argument("--case", choices=(*DURATION_S, "many32", "all"), default="all")
    p.add_argument("--repeats", type=int, default=9)
    return p.parse_args()


def build_many32():
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.slo import slo_from_scale
    from alpa_serve_like.placement import instantiate_models
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
    from alpa_serve_like.trace.synthetic import make_workload

    base = ProfilingDatabase.load(default_database_path()).for_device("v100-16gb")
    models, profiles = instantiate_models({m: 10 for m in MIXED}, base)
    hosted = [[] for _ in range(32)]
    for i, name in enumerate(models):
        hosted[(2 * i) % 32].append(name)
        hosted[(2 * i + 1) % 32].append(name)
    placement = Placement(tuple(GroupPlacement(ParallelConfig(1, 1, 1), tuple(h)) for h in hosted))
    workload = make_workload(models, 64.0, 200.0, np.random.default_rng(1), slo_s=slo_from_scale(models, profiles, 5.0),
                             process="gamma", cv=4.0, split="power_law", alpha=0.5)
    return placement, workload, profiles


def alpaserve_inputs(placement, workload, profiles):
    """Our placement, profiles and requests as AlpaServe's simulator takes them."""
    from alpa_serve.placement_policy.base_policy import ModelPlacement
    from alpa_serve.profiling import LatencyMemData, ParallelConfig, ProfilingResult

    names = list(workload.model_names)
    index = {n: i for i, n in enumerate(names)}
    configs = {(g.config.op, g.config.pp) for g in placement.groups}
    prof_ress = []
    for n in names:
        para = {}
        for op, pp in configs:
            ours = profiles[n].configs.get(_our_config(op, pp))
            if ours is not None:
                para[ParallelConfig(1, op, pp)] = LatencyMemData({1: list(ours.latency_s(1))}, {}, [])
        prof_ress.append(ProfilingResult(n, para, 0.0, 0.0))
    alpa_placement = ModelPlacement([ParallelConfig(1, g.config.op, g.config.pp) for g in placement.groups],
                                    [[index[m] for m in g.models if m in index] for g in placement.groups])
    model_ids = workload.model_id.astype(np.int32)
    slos = workload.slo_s.astype(np.float32)  # as its Workload builds them
    return alpa_placement, names, prof_ress, model_ids, slos, workload.arrival_s


def _our_config(op, pp):
    from alpa_serve_like.core.parallel_config import ParallelConfig

    return ParallelConfig(1, op, pp)


def timed(fn, repeats_log, key):
    tic, tic_cpu = time.perf_counter(), time.thread_time()
    out = fn()
    repeats_log.setdefault(key, []).append((time.perf_counter() - tic, time.thread_time() - tic_cpu))
    return out


def main() -> int:
    args = _parse()
    sys.path.insert(0, os.path.abspath(args.alpaserve_path))
    try:
        from alpa_serve.simulator import controller as alpa
    except ImportError as exc:
        print(f"cannot import AlpaServe's simulator from {args.alpaserve_path}: {exc} (pass the folder that "
              f"holds the alpa_serve package of github.com/alpa-projects/mms)", file=sys.stderr)
        return 2
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.scheduling.presets import with_rules
    from alpa_serve_like.simulator import PlacementScorer, SimOptions

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; AlpaServe from {args.alpaserve_path}")
    cases = [*DURATION_S, "many32"] if args.case == "all" else [args.case]
    ok = True
    for name in cases:
        placement, workload, profiles = build_mp32_case(name) if name in DURATION_S else build_many32()
        a_place, names, prof_ress, model_ids, slos, arrivals = alpaserve_inputs(placement, workload, profiles)
        run_alpa = lambda: alpa.approximate_one_case_one_placement(a_place, names, prof_ress, model_ids, slos, arrivals)
        rules = SimOptions(scheduling=with_rules(SchedulingOptions(), "alpaserve"))
        ours = {t: PlacementScorer(workload, profiles, rules, threads=t) for t in (1, 2)}
        default = PlacementScorer(workload, profiles, SimOptions())
        good = run_alpa()[2]  # first calls compile / load caches; not timed
        a_att = float(np.mean(good))
        o_att = ours[2].score(placement).attainment
        assert ours[1].score(placement).attainment == o_att
        d_att = default.score(placement).attainment
        # AlpaServe's loop alone, on the tables its own call builds.
        loop_args = _loop_args(alpa, a_place, names, prof_ress, model_ids, slos, arrivals)
        log = {}
        for _ in range(args.repeats):
            timed(run_alpa, log, "alpaserve")
            timed(lambda: alpa.simulate_requests_mixed(*loop_args()), log, "alpaserve loop")
            timed(lambda: ours[1].score(placement), log, "ours 1 thread")
            timed(lambda: ours[2].score(placement), log, "ours 2 threads")
        med = {k: np.median(np.array(v), axis=0) * 1e3 for k, v in log.items()}
        diff = abs(o_att - a_att)
        ok &= diff <= TOLERANCE
        print(f"{name:9s} {len(placement.groups):2d} groups {len(workload):>9,} req | attainment: AlpaServe {a_att:.5f}, "
              f"ours --rules alpaserve {o_att:.5f} (|diff| {diff:.5f} {'<=' if diff <= TOLERANCE else '>'} "
              f"{TOLERANCE}), ours default rules {d_att:.5f}")
        print("          ms (median wall / calling-thread CPU): " +
              " | ".join(f"{k} {w:7.2f} / {c:7.2f}" for k, (w, c) in med.items()) +
              f" | speed-up wall {med['alpaserve'][0] / med['ours 2 threads'][0]:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if ok else 1


def _loop_args(alpa, a_place, names, prof_ress, model_ids, slos, arrivals):
    """Inputs of AlpaServe's ``simulate_requests_mixed``, built as its caller builds them (its own
    table-building is timed in the full call); fresh output arrays per call."""
    num_stages = np.array([c.pp for c in a_place.group_configs], dtype=np.int32)
    lat = np.empty((len(names), len(a_place.group_configs), int(num_stages.max())), dtype=np.float32)
    for m, prof in enumerate(prof_ress):
        for g, config in enumerate(a_place.group_configs):
            value = prof.para_dict.get(config)
            if value:
                lat[m, g, : config.pp] = [x * (1 + 0.009 * config.pp) for x in value.latency[1]]
            else:
                lat[m, g] = np.inf
    m2g = np.full((len(names), len(a_place.group_configs)), -1, dtype=np.int32)
    count = [0] * len(names)
    for g, models in enumerate(a_place.group_models):
        for m in models:
            m2g[m, count[m]] = g
            count[m] += 1
    n = len(arrivals)
    return lambda: (np.empty(n), np.empty(n, dtype=bool), arrivals, model_ids, slos, m2g, num_stages, lat, n)


if __name__ == "__main__":
    sys.exit(main())
