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
    parser.add_argument("--placement", required=True, help="placement or schedule JSON")
    parser.add_argument("--workload", required=True, help="workload file (.npz, from 'trace' commands)")
    parser.add_argument("--db", default=None, help="profiling database (default: ./profiling_result.pkl or shipped)")
    parser.add_argument("--device", default="v100-16gb", help="device type in the profiling database")
    parser.add_argument("--routing", default="earliest_finish", help="earliest_finish (default) or shortest_queue")
    parser.add_argument("--no-admission", action="store_true", help="serve late requests instead of rejecting them")
    parser.add_argument("--max-batch-size", type=int, default=1, help="dynamic batching limit (1: off)")
    parser.add_argument("--dispatch-overhead", type=float, default=0.0, metavar="S", help="seconds before stage 0")
    parser.add_argument("--stage-overhead", type=float, default=0.0, metavar="S", help="seconds added per stage")
    parser.add_argument("--warmup", type=float, default=0.0, metavar="S", help="leave the first S seconds out of metrics")
    parser.add_argument("--backend", choices=("kernel", "reference"), default="kernel")
    parser.add_argument("--per-model", action="store_true", help="also print attainment per model")
    parser.add_argument("--out", default=None, help="write one row per request to this TSV file")


def profiles_for(names, db, device: str) -> dict:
    """Profile of each name, using the base model's profile for ``{base}-{i}`` copies."""
    from alpa_serve_like.profiling.database import DatabaseError
    from alpa_serve_like.profiling.instance_profiles import instance_profiles

    try:
        return instance_profiles(names, db, device)
    except DatabaseError as exc:
        raise SystemExit(f"simulate: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from alpa_serve_like.core.plan import PlacementError, PlacementSchedule
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions, simulate
    from alpa_serve_like.trace.workload_io import load_workload

    try:
        schedule = PlacementSchedule.load(args.placement)
        workload = load_workload(args.workload)
        db = ProfilingDatabase.load(args.db or default_database_path())
        scheduling = SchedulingOptions(
            routing=args.routing, admission=not args.no_admission, max_batch_size=args.max_batch_size,
            dispatch_overhead_s=args.dispatch_overhead, per_stage_overhead_s=args.stage_overhead,
        )
        options = SimOptions(scheduling=scheduling, warmup_s=args.warmup, backend=args.backend)
    except (PlacementError, DatabaseError, FileNotFoundError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    hosted = {m for seg in schedule.segments for m in seg.models}
    profiles = profiles_for(sorted(hosted), db, args.device)
    placement = schedule.segments[0] if len(schedule.segments) == 1 else schedule

    n = len(workload)
    print(f"simulating {n:,} requests of {len(workload.model_names)} models on "
          f"{placement.summary() if len(schedule.segments) == 1 else f'{len(schedule.segments)} segments'} ...",
          flush=True)
    tic = time.perf_counter()
    bar = _progress_bar(n)
    try:
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
