"""``alpa-serve-like place``: compute a placement with one named policy and save it as JSON.

A cluster of several device types (``--cluster-spec``) and the joint search over whole GPUs and
MIG slices (``--policy joint-search``) are ``place_mixed``'s. Also home of the argument groups and input loading shared with ``compare-policies``: cluster,
models (``NAME:COUNT`` copies of profiled base models), and traffic (a saved workload, or a
synthetic Gamma workload with power-law rates and SLO = scale x single-device latency).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from alpa_serve_like.cli.common_args import seed as seed_type

HELP = "compute a placement with a named policy"


SYNTHETIC_DEFAULTS = {"rate": 64.0, "cv": 4.0, "duration": 600.0, "split": "power_law", "alpha": 0.5, "slo_scale": 5.0}
"""Defaults of the flags that shape synthetic traffic only (a --workload brings its own)."""


def check_synthetic_flags(args) -> None:
    """Refuse a synthetic-traffic flag given with --workload, and --map without a workload file
    (either would be ignored without a word)."""
    if getattr(args, "map", None) and not args.workload and not getattr(args, "test_workload", None):
        raise ValueError("--map maps a workload file's model names onto --models; without --workload the "
                         "traffic is synthetic and already on --models: drop --map or give --workload")
    if not getattr(args, "workload", None):
        if args.split != "power_law" and args.alpha != SYNTHETIC_DEFAULTS["alpha"]:
            raise ValueError(f"--alpha applies to --split power_law (the split is {args.split})")
        return
    for field, default in SYNTHETIC_DEFAULTS.items():
        if getattr(args, field, default) != default:
            flag = "--" + field.replace("_", "-")
            raise ValueError(f"{flag} shapes synthetic traffic, but --workload {args.workload} brings its own "
                             f"requests and SLOs: drop {flag}, or set it when making the workload "
                             f"('alpa-serve-like trace generate')")


def add_problem_arguments(parser: argparse.ArgumentParser, cluster_spec: bool = False) -> None:
    from alpa_serve_like.cli import common_args as common

    c = parser.add_argument_group("cluster and models")
    devices = common.add_num_devices(c)
    if cluster_spec:
        from alpa_serve_like.cli.place_mixed import add_cluster_spec

        add_cluster_spec(devices)
    c.add_argument("--devices-per-node", type=int, default=8, metavar="N",
                   help="devices per node (intra-op stays inside one); --cluster-spec gives each entry its node")
    common.add_memory_budget(c)
    common.add_device(c)
    common.add_db(c)
    common.add_models(c)
    c.add_argument("--allow-unplaced", action="store_true",
                   help="go on when some models cannot be placed: place writes the plan without them "
                        "(listed in its 'unplaced' field); otherwise it fails naming them")
    w = parser.add_argument_group("traffic (a saved workload, or synthetic)")
    w.add_argument("--workload", help="training workload file (.npz, from 'trace' commands); default: synthetic")
    from alpa_serve_like.trace.model_mapping import MAP_HELP

    w.add_argument("--map", default=None, metavar="HOW", help="with --workload: " + MAP_HELP)
    d = SYNTHETIC_DEFAULTS
    w.add_argument("--rate", type=float, default=d["rate"], help="synthetic: total requests per second")
    w.add_argument("--cv", type=float, default=d["cv"], help="synthetic: Gamma inter-arrival CV")
    w.add_argument("--duration", type=float, default=d["duration"], help="synthetic: seconds of traffic")
    w.add_argument("--split", choices=("uniform", "power_law"), default=d["split"], help="synthetic: how the rate is split over models")
    w.add_argument("--alpha", type=float, default=d["alpha"], help="synthetic power-law exponent of the rates")
    common.add_slo_scale(w, default=d["slo_scale"])
    w.add_argument("--seed", type=seed_type, default=0, help="training traffic seed (policies derive theirs)")
    o = parser.add_argument_group("policy options")
    common.add_max_batch_size(o, help_text="dynamic batching limit (simulator) and activation memory")
    common.add_rules(o, help_text=common.RULES_HELP + "; the simulator scores candidates under it and the "
                     "plan records it")
    o.add_argument("--time-budget", type=float, default=10.0, help="seconds for mp-anneal")
    o.add_argument("--search-time-cap", type=float, default=0.0, metavar="S",
                   help="mp-anneal-budget-N: also stop after S seconds (0: no cap; a capped run depends on the machine)")
    o.add_argument("--ilp-time-limit", type=float, default=20.0, help="HiGHS seconds for mp-ilp / sr-ilp")
    o.add_argument("--oracle", action="store_true", help="sr-replace: plan each window on its own traffic")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.placement.registry import policy_names

    from alpa_serve_like.cli import place_mixed

    parser.add_argument("--policy", required=True,
                        help=f"policy name; one of {', '.join(policy_names())} (a trailing -N sets a size, e.g. "
                             f"mp-greedy-4), or {place_mixed.JOINT_SEARCH} (whole GPUs and MIG slices searched together)")
    add_problem_arguments(parser, cluster_spec=True)
    place_mixed.add_arguments(parser)
    parser.add_argument("--out", required=True, help="where to write the placement JSON")


def load_problem(args):
    """(cluster, model names, profiles) from the arguments; fails early if a model fits no group."""
    from alpa_serve_like.core.hardware import cluster_spec
    from alpa_serve_like.placement.problem_inputs import load_models

    cluster = cluster_spec(args.num_devices, args.device, devices_per_node=args.devices_per_node,
                           memory_budget_gib=args.memory_budget_gib)
    models, profiles = load_models(cluster, args.models, args.db, args.max_batch_size,
                                   allow_unplaced=getattr(args, "allow_unplaced", False))
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
    """The training workload and its label; refuses traffic without a request (a plan "trained"
    on nothing is arbitrary)."""
    check_synthetic_flags(args)
    if args.workload:
        from alpa_serve_like.trace.workload_io import load_workload

        train = mapped(args, load_workload(args.workload), models)
        label = f"{args.workload}" + (f" (mapped {args.map})" if getattr(args, "map", None) else "")
    else:
        train, label = synthetic(args, models, profiles, args.seed), synthetic_label(args, args.seed)
    if len(train) == 0:
        how = "--workload holds none" if args.workload else "raise --rate and --duration"
        raise ValueError(f"the training traffic holds no requests ({label}): {how}")
    return train, label


def mapped(args, workload, models):
    """``workload`` mapped onto ``models`` when ``--map`` is given."""
    if not getattr(args, "map", None):
        return workload
    from alpa_serve_like.trace.model_mapping import map_models, parse_map

    return map_models(workload, models, parse_map(args.map))


def options_from(args):
    from alpa_serve_like.placement import PlacementOptions
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.scheduling.presets import with_rules

    scheduling = with_rules(SchedulingOptions(max_batch_size=args.max_batch_size), args.rules)
    return PlacementOptions(scheduling=scheduling,
                            time_budget_s=args.time_budget, ilp_time_limit_s=args.ilp_time_limit,
                            search_time_cap_s=getattr(args, "search_time_cap", 0.0),  # place only
                            oracle=args.oracle)


def run(args) -> int:
    from alpa_serve_like.placement import PlacementInfeasibleError, place
    from alpa_serve_like.placement.evaluate import policy_rng, summarize
    from alpa_serve_like.placement.problem_inputs import check_workload_models
    from alpa_serve_like.placement.registry import PolicyNameError, resolve_policy

    from alpa_serve_like.cli import place_mixed
    from alpa_serve_like.profiling.database import DatabaseError

    from alpa_serve_like.cli.common_args import check_out_path

    if place_mixed.wants_mixed(args):
        try:
            check_out_path(args.out)
            result, lines = place_mixed.run(args)
        except (PlacementInfeasibleError, PolicyNameError, DatabaseError, ValueError, KeyError, OSError) as exc:
            from alpa_serve_like.cli.errors import report

            return report("alpa-serve-like place", exc)
        from alpa_serve_like.core.hardware import DEFAULT_MEMORY_FRACTION

        print("\n".join(lines))
        if result.context.unplaced:
            print(f"left out ({len(result.context.unplaced)}, --allow-unplaced): {', '.join(result.context.unplaced)}")
        result.save(args.out)
        print(f"wrote {args.out} (groups name their device types; memory budget per device: "
              f"{DEFAULT_MEMORY_FRACTION:.2%} of each type's memory)")
        return 0
    try:
        check_out_path(args.out)
        entry, _ = resolve_policy(args.policy)
        if getattr(args, "search_time_cap", 0.0) > 0 and entry.name != "mp-anneal-budget":
            print(f"note: --search-time-cap is ignored by {args.policy}; it applies to mp-anneal-budget-N",
                  file=sys.stderr)
        cluster, models, profiles = load_problem(args)
        train, label = load_training(args, models, profiles)
        check_workload_models(train, models)
        options = options_from(args)
        tic = time.perf_counter()
        result = place(args.policy, cluster, models, profiles, train, options,
                       policy_rng(args.seed, args.policy))
        solve_s = time.perf_counter() - tic
        result = stamp_plan(result, args, cluster, list(profiles), profiles, train, options)
    except (PlacementInfeasibleError, PolicyNameError, ValueError, KeyError, OSError) as exc:
        from alpa_serve_like.cli.errors import report

        return report("alpa-serve-like place", exc)
    if result.context.unplaced:
        print(f"left out ({len(result.context.unplaced)}, --allow-unplaced): {', '.join(result.context.unplaced)}")
    result.save(args.out)
    print(f"{args.policy}: {summarize(result)} in {solve_s:.2f} s, trained on {label}")
    print(f"wrote {args.out} (device {cluster.device_type}, memory budget "
          f"{cluster.memory_budget_bytes / 2**30:.2f} GiB per device)")
    return 0


def stamp_plan(result, args, cluster, requested, profiles, train, options):
    """The placement with what it was made for (device, budget, scheduling, SLO, database); raises
    naming each model left out, with its smallest memory need and the budget, unless --allow-unplaced."""
    from alpa_serve_like.placement.memory import MemoryModel
    from alpa_serve_like.placement.plan_context import explain_unplaced, plan_context, unplaced_models
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    unplaced = unplaced_models(requested, result)
    if not result.models:  # even with --allow-unplaced: a plan hosting nothing would serve nothing
        raise ValueError(f"no group hosts a model (none of {', '.join(requested)} fits); not writing an empty "
                         "placement: add devices (--num-devices) or raise --memory-budget-gib")
    if unplaced and not args.allow_unplaced:
        memory = MemoryModel(profiles, cluster.memory_budget_bytes, args.max_batch_size)
        lines = [explain_unplaced(m, memory, cluster) for m in unplaced]
        raise ValueError("\n".join(lines) + "\nadd devices (--num-devices), raise --memory-budget-gib, drop "
                         "the model, or pass --allow-unplaced to write the placement without it")
    fingerprint = ProfilingDatabase.load(args.db or default_database_path()).fingerprint()
    return result.with_context(plan_context(cluster, options.scheduling, slo_record(args, train, requested),
                                            fingerprint, unplaced))


def slo_record(args, train, requested) -> dict:
    """The plan's SLO record: each model's first SLO in a saved workload, else the scale."""
    from alpa_serve_like.core.slo import plan_slo_record

    if args.workload:
        first = {}  # a saved workload states its SLOs per request; record each model's first one
        for i, s in zip(train.model_id.tolist(), train.slo_s.tolist()):
            first.setdefault(train.model_names[i], s)
        return plan_slo_record(list(first), list(first.values()), None)
    return plan_slo_record(list(requested), [], args.slo_scale)
