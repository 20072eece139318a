"""``alpa-serve-like place`` on devices of several types: a mixed cluster, or the joint search.

- ``--cluster-spec SPEC`` (``TYPE:COUNT[@NODE],...`` or a JSON file): ``--policy`` runs on each
  device type's part of the cluster with that type's profiles and share of the traffic
  (``placement/mixed_types.place_per_type``); MIG slices get one-device groups only.
- ``--policy joint-search`` with ``--num-devices N --device GPU``: every split of the N GPUs into
  whole GPUs (model-parallel groups by ``--mesh-policy``) and MIG geometries of ``--slice-sizes``
  (``placement/joint_search.py``), each scored by the simulator on the training traffic; the best
  is written.

Either way the plan's groups name their device types (plan version 3), so ``simulate`` scores it
with each type's profiles. Every type's memory budget is ``DEFAULT_MEMORY_FRACTION`` of its memory
(one ``--memory-budget-gib`` cannot fit devices of different sizes, so it is refused here). The
profiles of each type come from the database; a type it lacks is an error that says how to profile it.
"""
from __future__ import annotations

import argparse
import os
import time

JOINT_SEARCH = "joint-search"
"""The ``--policy`` name of the joint meshes-or-partitions search (not a registered policy: it
places on several device types and scores candidates by simulation)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("mixed clusters and the joint search")
    g.add_argument("--mesh-policy", default="mp-search", metavar="NAME",
                   help=f"--policy {JOINT_SEARCH}: the placement policy that builds groups on the whole GPUs")
    g.add_argument("--slice-sizes", default="1,2,3,7", metavar="K,...",
                   help=f"--policy {JOINT_SEARCH}: MIG instance sizes in compute slices that geometries are "
                        "built from (1, 2, 3, 4, 7)")


def add_cluster_spec(group) -> None:
    """``--cluster-spec``, in the same either-or group as ``--num-devices``."""
    from alpa_serve_like.core.mixed_cluster import SPEC_FORMAT

    group.add_argument("--cluster-spec", default=None, metavar="SPEC",
                       help=f"a cluster of several device types instead of --num-devices/--device: {SPEC_FORMAT}; "
                            "JSON: {\"entries\": [{\"device_type\": ..., \"count\": ..., \"node\": ...}]}")


def wants_mixed(args) -> bool:
    return bool(getattr(args, "cluster_spec", None)) or args.policy == JOINT_SEARCH


def cluster_from(args):
    """The ``MixedCluster`` of ``--cluster-spec`` (inline or a JSON file)."""
    from alpa_serve_like.core.hardware import DEFAULT_MEMORY_FRACTION
    from alpa_serve_like.core.mixed_cluster import load_cluster_spec, parse_cluster_spec

    spec = args.cluster_spec
    if spec.endswith(".json") or os.path.isfile(spec):
        return load_cluster_spec(spec, DEFAULT_MEMORY_FRACTION)
    return parse_cluster_spec(spec, DEFAULT_MEMORY_FRACTION)


def check_arguments(args) -> None:
    if args.memory_budget_gib is not None:
        raise ValueError("--memory-budget-gib sets one budget for one device type; with --cluster-spec or "
                         f"--policy {JOINT_SEARCH} each type gets its default share of its own memory: drop it")
    if args.policy == JOINT_SEARCH and args.cluster_spec:
        raise ValueError(f"--policy {JOINT_SEARCH} searches one GPU type (--num-devices N --device GPU), not "
                         "--cluster-spec: give --num-devices and --device")


def profiles_by_device(args, device_types):
    """({device type: instance profiles}, model names, database fingerprint) of ``--models`` on every
    type, from the database; a type or model it lacks raises naming the ``profile`` command to run."""
    from alpa_serve_like.placement.models import instantiate_models, parse_model_counts
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path

    db = ProfilingDatabase.load(args.db or default_database_path())
    counts = parse_model_counts(args.models)
    out, models = {}, None
    for t in device_types:
        missing = sorted(counts) if t not in db.devices else sorted(set(counts) - set(db.models(t)))
        if missing:
            raise DatabaseError(
                f"the profiling database has no profile of {', '.join(missing)} on {t} (its devices: "
                f"{', '.join(db.devices)}); profile them there: alpa-serve-like profile --device {t} --models "
                f"{','.join(missing)} --out {args.db or default_database_path()} --merge")
        models, out[t] = instantiate_models(counts, db.for_device(t))
    return out, models, db.fingerprint()


def slice_types(gpu: str, sizes_text: str) -> tuple[list[int], list[str]]:
    """(sizes, MIG instance types) of ``gpu`` for ``--slice-sizes``, in ascending size."""
    from alpa_serve_like.core import mig

    try:
        sizes = sorted({int(s) for s in sizes_text.split(",")})
    except ValueError:
        raise ValueError(f"--slice-sizes {sizes_text!r}: expected whole numbers such as 1,2,3,7") from None
    known = sorted({p.compute_slices for p in mig.profiles(gpu)})
    bad = [k for k in sizes if k not in known]
    if bad:
        raise ValueError(f"--slice-sizes: {gpu} has no {bad[0]}-slice MIG instance (sizes: "
                         f"{', '.join(map(str, known))})")
    return sizes, [mig.profile_by_slices(gpu, k).device_name for k in sizes]


def run(args) -> tuple:
    """(plan, printed lines): place ``--models`` by the joint search or on a mixed cluster."""
    from alpa_serve_like.cli.place_cmd import options_from
    from alpa_serve_like.core.hardware import default_memory_budget_bytes

    check_arguments(args)
    options = options_from(args)
    search = joint if args.policy == JOINT_SEARCH else per_type
    plan, device, models, train, fingerprint, lines = search(args, options)
    plan = stamp(plan, args, models, device, default_memory_budget_bytes(device), train, options, fingerprint)
    return plan, lines + [f"plan: {plan.summary()}"]


def joint(args, options):
    """The joint search on ``--num-devices`` GPUs of type ``--device``; its best candidate."""
    from alpa_serve_like.core.hardware import DEFAULT_MEMORY_FRACTION
    from alpa_serve_like.placement.evaluate import policy_rng
    from alpa_serve_like.placement.joint_search import joint_search
    from alpa_serve_like.placement.registry import resolve_policy
    from alpa_serve_like.simulator import SimOptions

    resolve_policy(args.mesh_policy)
    sizes, slices = slice_types(args.device, args.slice_sizes)
    profiles, models, fingerprint = profiles_by_device(args, [args.device] + slices)
    train, label = training(args, models, profiles[args.device])
    tic = time.perf_counter()
    found = joint_search(args.device, args.num_devices, profiles, train, policy=args.mesh_policy,
                         placement_options=options, sim_options=SimOptions(scheduling=options.scheduling),
                         sizes=sizes, memory_fraction=DEFAULT_MEMORY_FRACTION,
                         rng=policy_rng(args.seed, args.mesh_policy))
    solve_s = time.perf_counter() - tic
    if not found:
        raise ValueError(f"joint search: no candidate hosts any model on {args.num_devices} x {args.device}")
    lines = [f"{JOINT_SEARCH}: {len(found)} candidates in {solve_s:.2f} s, trained on {label}; best first "
             "(attainment on the training traffic):"]
    lines += [f"  {100 * c.attainment:6.2f}%  {c.label()}" for c in found[:5]]
    return found[0].placement, args.device, models, train, fingerprint, lines


def per_type(args, options):
    """``--policy`` on each device type's part of ``--cluster-spec``; the merged plan."""
    from alpa_serve_like.placement.evaluate import policy_rng
    from alpa_serve_like.placement.mixed_types import place_per_type
    from alpa_serve_like.placement.registry import resolve_policy
    from alpa_serve_like.simulator import SimOptions
    from alpa_serve_like.simulator.mixed import simulate_plan

    resolve_policy(args.policy)
    cluster = cluster_from(args)
    first = cluster.device_types[0]
    profiles, models, fingerprint = profiles_by_device(args, cluster.device_types)
    train, label = training(args, models, profiles[first])
    tic = time.perf_counter()
    plan = place_per_type(args.policy, cluster, models, profiles, train, options, policy_rng(args.seed, args.policy),
                          allow_unplaced=args.allow_unplaced)
    solve_s = time.perf_counter() - tic
    attainment = simulate_plan(plan, profiles, train, SimOptions(scheduling=options.scheduling)).attainment
    lines = [f"{args.policy} per device type on {cluster.num_devices} devices ({', '.join(cluster.device_types)}): "
             f"{100 * attainment:.2f}% on the training traffic, in {solve_s:.2f} s, trained on {label}"]
    return plan, first, models, train, fingerprint, lines


def training(args, models, profiles):
    """The training workload and its label; a synthetic one takes its SLOs from ``profiles`` (the
    plan's device type: the first of the cluster, or the joint search's GPU)."""
    from alpa_serve_like.cli.place_cmd import load_training
    from alpa_serve_like.placement.problem_inputs import check_workload_models

    train, label = load_training(args, models, profiles)
    check_workload_models(train, models)
    return train, label


def stamp(plan, args, requested, device: str, budget_bytes: int, train, options, fingerprint):
    """``plan`` with its context: the first device type (and its budget) as the plan's device, the
    scheduling it was scored under, the SLO; raises naming models left out unless --allow-unplaced."""
    from alpa_serve_like.cli.place_cmd import slo_record
    from alpa_serve_like.core.plan import PlanContext
    from alpa_serve_like.placement.plan_context import unplaced_models
    from alpa_serve_like.scheduling.plan_record import scheduling_record

    unplaced = unplaced_models(requested, plan)
    if not plan.models:
        raise ValueError(f"no group hosts a model (none of {', '.join(requested)} fits); not writing an empty placement")
    if unplaced and not args.allow_unplaced:
        raise ValueError(f"no group hosts {', '.join(unplaced)}: add devices, or pass --allow-unplaced to write "
                         "the placement without them")
    context = PlanContext(device=device, memory_budget_bytes=int(budget_bytes),
                          scheduling=scheduling_record(options.scheduling), slo=slo_record(args, train, requested),
                          database_fingerprint=fingerprint, unplaced=tuple(unplaced))
    return plan.with_context(context)
