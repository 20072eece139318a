"""``alpa-serve-like place``: compute a placement with one named policy and save it as JSON.

Also home of the argument groups and input loading shared with ``compare-policies``: cluster,
models (``NAME:COUNT`` copies of profiled base models), and traffic (a saved workload, or a
synthetic Gamma workload with power-law rates and SLO = scale x single-device latency).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

HELP = "compute a placement with a named policy"


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    c = parser.add_argument_group("cluster and models")
    c.add_argument("--cluster", type=int, required=True, metavar="N", help="number of devices")
    c.add_argument("--devices-per-node", type=int, default=8)
    c.add_argument("--memory-budget-gib", type=float, default=13.0, help="usable memory per device (GiB)")
    c.add_argument("--device", default="v100-16gb", help="device type in the profiling database")
    c.add_argument("--db", default=None, help="profiling database (default: ./profiling_result.pkl or shipped)")
    c.add_argument("--models", required=True, help="base models and copies, e.g. bert-1.3b:10,moe-1.3b:10")
    w = parser.add_argument_group("traffic (a saved workload, or synthetic)")
    w.add_argument("--workload", help="training workload file (.npz, from 'trace' commands)")
    w.add_argument("--rate", type=float, default=64.0, help="synthetic: total requests per second")
    w.add_argument("--cv", type=float, default=4.0, help="synthetic: Gamma inter-arrival CV")
    w.add_argument("--duration", type=float, default=600.0, help="synthetic: seconds of traffic")
    w.add_argument("--split", choices=("uniform", "power_law"), default="power_law")
    w.add_argument("--alpha", type=float, default=0.5, help="synthetic power-law exponent of the rates")
    w.add_argument("--slo-scale", type=float, default=5.0, help="SLO = scale x single-device latency")
    w.add_argument("--seed", type=int, default=0, help="training traffic seed (policies derive theirs)")
    o = parser.add_argument_group("policy options")
    o.add_argument("--max-batch-size", type=int, default=1, help="dynamic batching limit (simulator) and activation memory")
    o.add_argument("--time-budget", type=float, default=10.0, help="seconds for mp-anneal")
    o.add_argument("--ilp-time-limit", type=float, default=20.0, help="HiGHS seconds for mp-ilp / sr-ilp")
    o.add_argument("--oracle", action="store_true", help="sr-replace: plan each window on its own traffic")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="policy name, e.g. mp-search, mp-greedy-4, sr-replace-60")
    add_problem_arguments(parser)
    parser.add_argument("--out", required=True, help="where to write the placement JSON")


def load_problem(args):
    """(cluster, model names, profiles) from the arguments; fails early if a model fits no group."""
    from alpa_serve_like.core.hardware import GiB, ClusterSpec
    from alpa_serve_like.placement.problem_inputs import load_models

    cluster = ClusterSpec(num_devices=args.cluster, devices_per_node=args.devices_per_node,
                          memory_budget_bytes=int(args.memory_budget_gib * GiB), device_type=args.device)
    models, profiles = load_models(cluster, args.models, args.db, args.max_batch_size)
    return cluster, models, profiles


def synthetic_traffic(args):
    from alpa_serve_like.placement.problem_inputs import SyntheticTraffic

    return SyntheticTraffic(rate=args.rate, duration_s=args.duration, cv=args.cv, split=args.split,
                            alpha=args.alpha, slo_scale=args.slo_scale)


def synthetic(args, models, profiles, seed: int):
    return synthetic_traffic(args).workload(models, profiles, np.random.default_rng(seed))


def synthetic_label(args, seed: int) -> str:
    return synthetic_traffic(args).label(seed)


def load_training(args, models, profiles):
    """The training workload and its label."""
    if args.workload:
        from alpa_serve_like.trace.workload_io import load_workload

        return load_workload(args.workload), f"{args.workload}"
    return synthetic(args, models, profiles, args.seed), synthetic_label(args, args.seed)


def options_from(args):
    from alpa_serve_like.placement import PlacementOptions
    from alpa_serve_like.scheduling import SchedulingOptions

    return PlacementOptions(scheduling=SchedulingOptions(max_batch_size=args.max_batch_size),
                            time_budget_s=args.time_budget, ilp_time_limit_s=args.ilp_time_limit,
                            oracle=args.oracle)


def run(args) -> int:
    from alpa_serve_like.placement import PlacementInfeasibleError, place
    from alpa_serve_like.placement.evaluate import policy_rng, summarize
    from alpa_serve_like.placement.problem_inputs import check_workload_models
    from alpa_serve_like.placement.registry import PolicyNameError, resolve_policy

    try:
        resolve_policy(args.policy)
        cluster, models, profiles = load_problem(args)
        train, label = load_training(args, models, profiles)
        check_workload_models(train, models)
        tic = time.perf_counter()
        result = place(args.policy, cluster, models, profiles, train, options_from(args),
                       policy_rng(args.seed, args.policy))
        solve_s = time.perf_counter() - tic
    except (PlacementInfeasibleError, PolicyNameError, ValueError, KeyError, OSError) as exc:
        print(f"alpa-serve-like place: {exc}", file=sys.stderr)
        return 2
    result.save(args.out)
    print(f"{args.policy}: {summarize(result)} in {solve_s:.2f} s, trained on {label}")
    print(f"wrote {args.out}")
    return 0
