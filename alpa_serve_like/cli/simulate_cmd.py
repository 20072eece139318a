"""``alpa-serve-like simulate``: score a placement (or schedule) on a saved workload.

Profiles come from the profiling database for one device type. Model names of the form
``bert-1.3b-7`` (copies made by the placement tools) use the profile of their base model.
"""
from __future__ import annotations

import argparse
import sys
import time

HELP = "score a placement on a workload with the cluster simulator"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.cli import common_args as common
    from alpa_serve_like.scheduling.routing import routing_names

    parser.add_argument("--placement", required=True, help="placement or schedule JSON (from 'place')")
    parser.add_argument("--workload", required=True, help="workload file (.npz, from 'trace' commands)")
    from alpa_serve_like.trace.model_mapping import MAP_HELP

    parser.add_argument("--map", default=None, metavar="HOW",
                        help=MAP_HELP.replace("onto --models", "onto the plan's models"))
    common.add_db(parser)
    common.add_device(parser, default=None, help_text=common.DEVICE_HELP + " (default: the plan's device, "
                      "else v100-16gb); another type than the plan's re-checks memory")
    common.add_memory_budget(parser, "usable memory per device for the memory check (default: the plan's on "
                                     "its own device, else the device type's default share)")
    parser.add_argument("--routing", default=None, metavar="POLICY",
                        help=f"routing policy, one of {', '.join(routing_names())} (default: the plan's, else earliest_finish); "
                             "under srpt/edf routing is always to the fewest outstanding requests")
    from alpa_serve_like.scheduling.disciplines import discipline_names

    parser.add_argument("--discipline", default=None, choices=discipline_names(),
                        help="order in which each stage serves its queue: fcfs (arrival; admission exact), "
                             "srpt (Paella's shortest estimated remaining work), edf (earliest deadline); under "
                             "srpt/edf admission drops at dispatch (default: the plan's, else fcfs)")
    parser.add_argument("--fairness-threshold", type=float, default=None, metavar="U",
                        help="Paella's deficit threshold U for srpt (1e6 = pure SRPT; smaller is fairer to "
                             "long models; default: the plan's, else 1e6)")
    common.add_rules(parser, default=None, help_text=common.RULES_HELP + " (default: the plan's rules); "
                     "--routing and the overhead flags still win over the set")
    parser.add_argument("--no-admission", action="store_true", default=None,
                        help="serve late requests instead of rejecting them")
    common.add_max_batch_size(parser, default=None, help_text="dynamic batching limit (default: the plan's, else 1)")
    parser.add_argument("--dispatch-overhead", type=float, default=None, metavar="S",
                        help="seconds before stage 0 (default: the plan's, else 0)")
    parser.add_argument("--stage-overhead", type=float, default=None, metavar="S",
                        help="seconds added per stage (default: the plan's, else 0)")
    parser.add_argument("--warmup", type=float, default=0.0, metavar="S", help="leave the first S seconds out of metrics")
    parser.add_argument("--backend", choices=("kernel", "reference"), default="kernel",
                        help="numba kernel (fast) or the reference event-heap simulator")
    parser.add_argument("--per-model", action="store_true", help="also print attainment per model")
    parser.add_argument("--out", default=None, help="write one row per request to this TSV file")


def profiles_for(names, db, device: str) -> dict:
    """Profile of each name, using the base model's profile for ``{base}-{i}`` copies; a name the
    database lacks raises DatabaseError (``main`` reports it, exit status 2)."""
    from alpa_serve_like.profiling.instance_profiles import instance_profiles

    return instance_profiles(names, db, device)


def run(args: argparse.Namespace) -> int:
    from alpa_serve_like.core.plan import PlacementError, PlacementSchedule
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path
    from alpa_serve_like.simulator import simulate
    from alpa_serve_like.trace.workload_io import load_workload

    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(args.out)
        schedule = PlacementSchedule.load(args.placement)
        workload = load_workload(args.workload)
        if args.map:
            from alpa_serve_like.trace.model_mapping import map_models, parse_map

            workload = map_models(workload, list(schedule.segments[0].models), parse_map(args.map))
        db = ProfilingDatabase.load(args.db or default_database_path())
        device, options, notes = settings_from_plan(schedule.context, args)
    except (PlacementError, DatabaseError, FileNotFoundError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    hosted = {m for seg in schedule.segments for m in seg.models}
    problem = workload_problem(workload, args.workload, options.warmup_s)
    if problem:
        print(f"simulate: {problem}", file=sys.stderr)
        return 2
    for line in notes:
        print(line)
    for line in unused_setting_notes(options.scheduling, args):
        print(line, file=sys.stderr)
    placement = schedule.segments[0] if len(schedule.segments) == 1 else schedule
    per_device = len(schedule.segments) == 1 and any(g.device is not None for g in placement.groups)
    elsewhere = sorted({g.device for seg in schedule.segments for g in seg.groups if g.device not in (None, device)})
    if len(schedule.segments) > 1 and elsewhere:
        print(f"simulate: {args.placement} is a schedule of {len(schedule.segments)} segments with groups on "
              f"{', '.join(elsewhere)} besides {device}; schedules are simulated on one device type only: "
              f"simulate each segment's placement as a plan of its own", file=sys.stderr)
        return 2
    try:
        if per_device:  # groups name their own device types: profiles and memory per type
            profiles_by_device, note = per_device_profiles(placement, db, device, args.memory_budget_gib,
                                                           options.scheduling.max_batch_size)
        else:
            profiles = profiles_for(sorted(hosted), db, device)
            note = check_memory(placement, schedule.context, profiles, device, args.memory_budget_gib,
                                options.scheduling.max_batch_size)
    except PlacementError as exc:
        hint = "" if args.memory_budget_gib else "; a plan made with a larger budget: pass --memory-budget-gib"
        print(f"simulate: {exc}{hint}", file=sys.stderr)
        return 2
    if note:
        print(note)
    fingerprint = schedule.context.database_fingerprint
    if fingerprint and fingerprint != db.fingerprint():
        print("note: this database differs from the one the plan was optimised on (fingerprints differ)")

    notes_after = unhosted_note(workload, hosted)
    if not per_device:
        notes_after += slo_mismatch_note(workload, schedule.context.slo, profiles)
    for line in notes_after:  # after every refusal: a refused command prints one line
        print(line, file=sys.stderr)
    n = len(workload)
    print(f"simulating {n:,} requests of {len(workload.model_names)} models on "
          f"{placement.summary() if len(schedule.segments) == 1 else f'{len(schedule.segments)} segments'} ...",
          flush=True)
    tic = time.perf_counter()
    bar = _progress_bar(n)
    try:
        if per_device:
            from alpa_serve_like.simulator.mixed import simulate_plan

            result = simulate_plan(placement, profiles_by_device, workload, options, default_device=device,
                                   progress=bar.update if bar else None)
        else:
            result = simulate(placement, workload, profiles, options, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    elapsed = time.perf_counter() - tic
    print(f"done in {elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f} requests/s; includes loading tables and, on a cold numba cache, compiling)")
    print(result.summary())
    if args.per_model:
        for name, value in result.per_model_attainment.items():
            print(f"  {name:24s} {100 * value:6.2f}%")
    if args.out:
        result.to_dataframe().to_csv(args.out, sep="\t", index=False)
        print(f"wrote {args.out}")
    return 0


def workload_problem(workload, path, warmup_s: float) -> str:
    """Why ``workload`` leaves nothing to measure ("" when it does): every metric would be ``nan``."""
    from alpa_serve_like.simulator.run import measured_mask

    if len(workload) == 0:
        return f"workload {path} holds no requests; make one with 'alpa-serve-like trace generate' or 'trace build'"
    if not measured_mask(workload.arrival_s, warmup_s).any():
        return (f"--warmup {warmup_s:g} s leaves no request to measure: the {len(workload):,} requests of {path} "
                f"arrive from {workload.arrival_s[0]:.3f} s to {workload.arrival_s[-1]:.3f} s; lower --warmup")
    return ""


def unhosted_note(workload, hosted) -> list[str]:
    """A note naming the workload's models the plan does not host (their requests are rejected as
    'unplaced'), so a workload paired with the wrong plan does not pass as a bad score."""
    import numpy as np

    counts = np.bincount(workload.model_id, minlength=len(workload.model_names))
    missing = [i for i, name in enumerate(workload.model_names) if counts[i] and name not in hosted]
    if not missing:
        return []
    n = int(counts[missing].sum())
    names = ", ".join(workload.model_names[i] for i in missing[:8]) + (", ..." if len(missing) > 8 else "")
    return [f"note: {n:,} of {len(workload):,} requests are for models the plan does not host ({names}); they "
            f"count as rejected (unplaced); --map maps a workload's names onto the plan's models"]


def slo_mismatch_note(workload, plan_slo, profiles) -> list[str]:
    """A note when the workload's SLOs are not those the plan was optimised for (its ``slo`` record:
    seconds per model, or a scale of each model's single-device latency in ``profiles``); the
    attainment then answers another question than the plan's."""
    import numpy as np

    from alpa_serve_like.core.slo import single_device_latency_s

    def planned(name) -> float:  # nan: the plan says nothing about this model
        if "per_model_s" in plan_slo:
            return plan_slo["per_model_s"].get(name, np.nan)
        if "scale" in plan_slo and name in profiles:
            return plan_slo["scale"] * single_device_latency_s(profiles[name])
        return np.nan

    want = np.array([planned(n) for n in workload.model_names], dtype=np.float64)
    per_request = want[workload.model_id]  # one pass over the requests, however many models
    off = ~np.isnan(per_request) & ~np.isclose(workload.slo_s, per_request, rtol=1e-6, atol=0.0)
    models_off = np.flatnonzero(np.bincount(workload.model_id[off], minlength=len(want)))
    if not len(models_off):
        return []
    differ = [f"{workload.model_names[i]}: {float(np.median(workload.slo_s[workload.model_id == i])):.4g} s in the "
              f"workload, {want[i]:.4g} s in the plan" for i in models_off[:3]]
    more = f" (and {len(models_off) - 3} more)" if len(models_off) > 3 else ""
    return [f"note: the workload's SLOs differ from the plan's ({'; '.join(differ[:3])}{more}); make the test "
            f"workload with the plan's SLOs (trace generate --slo-ms / --slo-scale) to score what it was made for"]


def unused_setting_notes(scheduling, args) -> list[str]:
    """One line per setting that does not act under the chosen discipline (printed to stderr)."""
    from alpa_serve_like.scheduling.routing import effective_routing

    notes = []
    routing = effective_routing(scheduling.routing, scheduling.discipline)
    if routing != scheduling.routing:
        notes.append(f"note: routing {scheduling.routing} is overridden under {scheduling.discipline}: requests go "
                     f"to the group with the fewest outstanding requests ({routing}); --routing applies under fcfs")
    if getattr(args, "fairness_threshold", None) is not None and scheduling.discipline != "srpt":
        notes.append(f"note: --fairness-threshold is ignored under {scheduling.discipline}; it applies with "
                     f"--discipline srpt")
    return notes


def settings_from_plan(context, args):
    """(device, SimOptions, notes): what the user gave wins, else the plan's, else the defaults;
    each value taken from the plan is said in ``notes``."""
    from alpa_serve_like.scheduling.options import SchedulingOptions
    from alpa_serve_like.scheduling.plan_record import scheduling_from_record
    from alpa_serve_like.simulator import SimOptions

    notes = []
    device = args.device
    if device is None and context.device:
        device = context.device
        notes.append(f"using device {device} from the plan")
    elif device is None:
        device = "v100-16gb"
        notes.append("the plan does not name its device (an older file); using v100-16gb, pass --device to choose")
    given = {"routing": args.routing, "admission": None if args.no_admission is None else not args.no_admission,
             "max_batch_size": args.max_batch_size, "dispatch_overhead_s": args.dispatch_overhead,
             "per_stage_overhead_s": args.stage_overhead, "discipline": getattr(args, "discipline", None),
             "fairness_threshold": getattr(args, "fairness_threshold", None)}  # absent from hand-made namespaces
    from alpa_serve_like.scheduling.presets import RULE_FIELDS, rule_values, rules_of

    from alpa_serve_like.scheduling.plan_record import unknown_record_fields

    unknown = unknown_record_fields(context.scheduling)
    if unknown:
        notes.append(f"note: the plan's scheduling field(s) {', '.join(map(repr, unknown))} are not options of this "
                     f"version (a typo, or a newer writer's) and are ignored")
    record = dict(context.scheduling)
    ruled = set()  # fields the rule set decides (said once by its name, not field by field)
    if args.rules is not None:
        record.update(rule_values(args.rules))
        ruled = set(RULE_FIELDS)
        notes.append(f"using rule set {args.rules}")
    else:
        plan_rules = rules_of(scheduling_from_record(record))
        if plan_rules not in (None, "default"):
            ruled = set(RULE_FIELDS)
            notes.append(f"using rule set {plan_rules} from the plan")
    scheduling = scheduling_from_record(record, **given)
    defaults = SchedulingOptions()
    from_plan = [f"{k} {v}" for k, v in context.scheduling.items() if k in given and given[k] is None
                 and k not in ruled and (k == "max_batch_size" or v != getattr(defaults, k))]
    if from_plan:
        notes.append(f"using {', '.join(from_plan)} from the plan")
    return device, SimOptions(scheduling=scheduling, warmup_s=args.warmup, backend=args.backend), notes


def check_memory(placement, context, profiles, device: str, budget_gib: float | None, max_batch_size: int) -> str:
    """Refuse (PlacementError) when a group does not fit ``device``'s memory; returns a note when
    the check cannot run. The budget: --memory-budget-gib, else the plan's on its own device, else
    the device type's default share."""
    from alpa_serve_like.core.hardware import GiB, check_budget_fits_device, default_memory_budget_bytes
    from alpa_serve_like.core.plan import PlacementError
    from alpa_serve_like.placement.memory import check_plan_fits_device

    if budget_gib is not None:
        budget, whose = int(budget_gib * GiB), ""
    elif context.memory_budget_bytes and device == context.device:
        budget, whose = context.memory_budget_bytes, "the plan's 'memory_budget_bytes': "
    else:
        try:
            budget, whose = default_memory_budget_bytes(device), ""
        except ValueError:
            return (f"memory not checked: device {device!r} is not built in and the plan records no budget "
                    f"for it (pass --memory-budget-gib)")
    try:  # a budget above the device's memory (given, or hand-written in the plan) checks nothing
        check_budget_fits_device(device, budget)
    except ValueError as exc:
        raise PlacementError(f"{whose}{exc}") from None
    check_plan_fits_device(placement, profiles, device, budget, max_batch_size)
    return ""


def per_device_profiles(placement, db, default_device: str, budget_gib: float | None, max_batch_size: int):
    """({device type: profiles of the models its groups host}, notes) for a plan whose groups name
    their devices (a group that names none runs on ``default_device``); each type's groups are
    checked against that type's memory (``check_memory``)."""
    from dataclasses import replace

    from alpa_serve_like.core.plan import Placement
    from alpa_serve_like.profiling.instance_profiles import profiles_per_device

    devices = [g.device or default_device for g in placement.groups]
    out, notes = profiles_per_device(placement, db, devices), []
    for device, profiles in out.items():
        part = Placement(tuple(replace(g, device=None) for g, d in zip(placement.groups, devices) if d == device))
        notes.append(check_memory(part, placement.context, profiles, device, budget_gib, max_batch_size))
    return out, "\n".join(n for n in notes if n)


class _Bar:
    def __init__(self, total: int):
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="req", unit_scale=True, file=sys.stderr, leave=False)

    def update(self, done: int, total: int) -> None:
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def _progress_bar(n: int):
    """A progress bar for long runs only (short ones finish before it would show anything)."""
    return _Bar(n) if n >= 500_000 else None
