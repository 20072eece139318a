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
    from alpa_serve_like.placement import (MemoryModel, check_models_fit, enumerate_partitions,
                                           instantiate_models, parse_model_counts)
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    db_path = args.db or default_database_path()
    base = ProfilingDatabase.load(db_path).for_device(args.device)
    models, profiles = instantiate_models(parse_model_counts(args.models), base)
    cluster = ClusterSpec(num_devices=args.cluster, devices_per_node=args.devices_per_node,
                          memory_budget_bytes=int(args.memory_budget_gib * GiB), device_type=args.device)
    every_shape = {c for p in enumerate_partitions(cluster.num_devices, cluster.devices_per_node, 64, 64) for c in p}
    check_models_fit(MemoryModel(profiles, cluster.memory_budget_bytes, args.max_batch_size), models, every_shape)
    return cluster, models, profiles


def slo_per_model(models, profiles, scale: float) -> np.ndarray:
    """SLO of each model: ``scale`` x its latency on one device (fastest config if not profiled)."""
    from alpa_serve_like.core.parallel_config import ParallelConfig

    out = []
    for m in models:
        p = profiles[m]
        entry = p.configs.get(ParallelConfig(1, 1, 1))
        lat = entry.total_latency_s(1) if entry else min(e.total_latency_s(min(e.batch_sizes)) for e in p.configs.values())
        out.append(scale * lat)
    return np.asarray(out)


def synthetic(args, models, profiles, seed: int):
    from alpa_serve_like.trace.synthetic import make_workload

    return make_workload(models, args.rate, args.duration, np.random.default_rng(seed),
                         slo_s=slo_per_model(models, profiles, args.slo_scale), process="gamma",
                         cv=args.cv, split=args.split, alpha=args.alpha)


def synthetic_label(args, seed: int) -> str:
    return (f"synthetic gamma rate={args.rate:g}/s cv={args.cv:g} {args.split} alpha={args.alpha:g} "
            f"{args.duration:g}s SLO={args.slo_scale:g}x seed={seed}")


def load_training(args, models, profiles):
    """The training workload and its label."""
    if args.workload:
        from alpa_serve_like.trace.workload_io import load_workload

        return load_workload(args.workload), f"{args.workload}"
    return synthetic(args, models, profiles, args.seed), synthetic_label(args, args.seed)


def options_from(args):
    from alpa_serve_like.placement import PlacementOptions

    from alpa_serve_like.simulator import SimOptions

    return PlacementOptions(sim_options=SimOptions(max_batch_size=args.max_batch_size),
                            max_batch_size=args.max_batch_size, time_budget_s=args.time_budget,
                            ilp_time_limit_s=args.ilp_time_limit, oracle=args.oracle)


def check_workload_models(workload, models) -> None:
    """Every model with traffic must be among the models to place (else its requests can't be served)."""
    counts = np.bincount(workload.model_id, minlength=len(workload.model_names))
    unknown = [n for n, c in zip(workload.model_names, counts) if c and n not in set(models)]
    if unknown:
        raise ValueError(f"the workload has requests for {len(unknown)} model(s) not in --models, e.g. "
                         f"{', '.join(unknown[:3])}; --models must cover the workload's models "
                         f"(names are BASE-i, e.g. bert-1.3b-0)")


def run(args) -> int:
    from alpa_serve_like.placement import PlacementInfeasibleError, place
    from alpa_serve_like.placement.evaluate import policy_rng, summarize
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
