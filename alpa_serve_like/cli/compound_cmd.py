"""``alpa-serve-like compound``: plan compound applications (task graphs with model variants).

``plan`` solves the MILP of ``alpa_serve_like.compound.optimizer`` for one application (fixed
demand, or the maximum demand a cluster serves), by default tightened until a simulation at the
planned demand holds the violation target (``compound.holding``; ``--no-hold``: the MILP alone);
``compare`` prints the maximum serviceable demand
of the full optimizer and each ablation on one or more applications (a TSV with ``--out``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from alpa_serve_like.cli.common_args import seed as seed_type

HELP = "plan compound applications (task graphs, model variants, MIG slices) and compare ablations"

_EPILOG = """examples:
  alpa-serve-like compound plan examples/compound_xr_chain.json --gpus 8
  alpa-serve-like compound plan examples/compound_xr_diamond.json --gpus 8 --demand-rps 20 --json
  alpa-serve-like compound compare examples/compound_xr_chain.json examples/compound_xr_diamond.json --gpus 8
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.compound.systems import SYSTEMS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    sub = parser.add_subparsers(dest="compound_command", metavar="SUBCOMMAND", required=True)
    for name, help_text in (("plan", "solve for one application"),
                            ("compare", "maximum demand of the optimizer and its ablations")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("apps", nargs="+" if name == "compare" else 1, metavar="APP.json",
                       help="compound application file(s), e.g. examples/compound_xr_chain.json")
        p.add_argument("--gpus", type=int, required=True, help="GPUs in the cluster")
        p.add_argument("--device", default="a100-80gb", help="GPU type in the database (default a100-80gb)")
        p.add_argument("--db", default=None, metavar="PATH",
                       help="profiling database (default: $ALPA_SERVE_LIKE_DB, else ./profiling_result.pkl, "
                            "else the shipped copy)")
        p.add_argument("--utilization", type=float, default=1.0,
                       help="plan instances to at most this fraction of their throughput (default 1.0)")
        p.add_argument("--latency-headroom", type=float, default=1.0,
                       help="use an option only if its latency is at most this fraction of the task budget "
                            "(default 1.0; lower leaves room for queueing)")
        p.add_argument("--time-limit-s", type=float, default=60.0, help="MILP time limit per solve, seconds (default 60)")
        p.add_argument("--no-hold", action="store_true",
                       help="plan with the MILP alone; by default plans are tightened until a simulation at "
                            "their demand holds the violation target (compound.holding)")
        p.add_argument("--target-violation-rate", type=float, default=0.01,
                       help="a plan holds when at most this share of simulated requests misses the SLO (default 0.01)")
        if name == "plan":
            p.add_argument("--demand-rps", type=float, default=None,
                           help="requests/s to serve with the fewest slices (default: the maximum demand)")
            p.add_argument("--system", choices=SYSTEMS, default="jigsaw", help="optimizer or an ablation (default jigsaw)")
            p.add_argument("--json", action="store_true", help="print the plan as JSON (default: a table)")
        else:
            p.add_argument("--out", default=None, metavar="X.tsv", help="also write the table as TSV (default: print only)")
            p.add_argument("--sim-duration-s", type=float, default=60.0,
                           help="simulate each reference plan on Poisson arrivals this long, seconds (0: skip; default 60)")
            p.add_argument("--seed", type=seed_type, default=0, help="seed of the simulated arrivals (default 0)")


def run(args: argparse.Namespace) -> int:
    from alpa_serve_like.compound.app_spec import AppSpecError
    from alpa_serve_like.compound.optimizer import CompoundInfeasible
    from alpa_serve_like.profiling.database import DatabaseError

    from alpa_serve_like.cli.errors import report

    try:
        _check_options(args)
        return _plan(args) if args.compound_command == "plan" else _compare(args)
    except CompoundInfeasible as exc:  # a valid question without a plan: not the input's fault
        print(f"alpa-serve-like compound {args.compound_command}: error: {exc}", file=sys.stderr)
        return 1
    except (AppSpecError, DatabaseError, ValueError, KeyError, OSError) as exc:  # bad input: status 2, as every command
        return report(f"alpa-serve-like compound {args.compound_command}: error", exc)


def _check_options(args) -> None:
    """Refuse option values no solve can use (a zero time limit reads as "no plan exists")."""
    if not args.time_limit_s > 0:
        raise ValueError(f"--time-limit-s must be > 0 seconds, got {args.time_limit_s:g}")
    from alpa_serve_like.cli.common_args import check_out_path

    check_out_path(getattr(args, "out", None))
    if getattr(args, "sim_duration_s", 0.0) < 0:
        raise ValueError(f"--sim-duration-s must be >= 0 seconds (0: skip the simulation), got {args.sim_duration_s:g}")


def _inputs(args, path):
    from alpa_serve_like.compound.app_spec import load_app
    from alpa_serve_like.compound.optimizer import OptimizerOptions
    from alpa_serve_like.compound.slice_table import option_table
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    db = ProfilingDatabase.load(Path(args.db) if args.db else default_database_path())
    app = load_app(path)
    opts = OptimizerOptions(utilization=args.utilization, latency_headroom=args.latency_headroom,
                            time_limit_s=args.time_limit_s)
    return app, option_table(app, db, args.device), opts


def _hold(args):
    from alpa_serve_like.compound.holding import HoldOptions

    return HoldOptions(target_violation_rate=args.target_violation_rate)


def _plan(args) -> int:
    from alpa_serve_like.compound.holding import plan_that_holds
    from alpa_serve_like.compound.optimizer import max_demand, min_resources
    from alpa_serve_like.compound.systems import system_inputs

    app, options, opts = _inputs(args, args.apps[0])
    app, options, opts = system_inputs(args.system, app, options, opts)
    held = None
    if args.no_hold:
        plan = (max_demand(app, options, args.gpus, opts) if args.demand_rps is None
                else min_resources(app, options, args.demand_rps, args.gpus, opts))
    else:
        held = plan_that_holds(app, options, args.gpus, opts, args.demand_rps, _hold(args))
        plan = held.plan
    if args.json:
        out = plan.to_dict()
        if held is not None:
            out["hold"] = {"utilization": held.utilization, "latency_headroom": held.latency_headroom,
                           "slo_violation_rate": held.violation_rate, "holds": held.holds, "tries": held.tries}
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"{app.name} ({args.system}) on {args.gpus} x {args.device}: {plan.demand_rps:.2f} rps, "
          f"accuracy {plan.accuracy:.4f}, {plan.slices_used} slices on {plan.gpus_used} GPUs "
          f"({100 * plan.gpu_fraction_used:.1f}% of the cluster), solved in {plan.solve_time_s:.2f} s")
    if held is not None:
        print(f"  simulated at that demand: {100 * held.violation_rate:.2f}% SLO violations "
              f"({'holds' if held.holds else 'MISSES'} the {100 * args.target_violation_rate:g}% target; "
              f"utilization {held.utilization:g}, latency headroom {held.latency_headroom:g}, {held.tries} step(s))")
    for task in app.tasks:
        print(f"  {task.name}: {plan.variant_by_task[task.name]}, budget {1e3 * plan.budget_s_by_task[task.name]:.1f} ms")
    for i in plan.instances:
        print(f"    {i.count} x {i.compute_slices}g mps{i.mps} {i.model} for {i.task} "
              f"({1e3 * i.latency_s:.1f} ms, {i.throughput_rps:.2f} rps each)")
    for sizes, n in plan.geometries:
        print(f"  {n} GPU(s) cut as {'+'.join(f'{k}g' for k in sizes)}")
    return 0


def _compare(args) -> int:
    from alpa_serve_like.compound.report import ablation_rows, format_tsv

    from alpa_serve_like.compound.systems import SYSTEMS

    from alpa_serve_like.compound.app_spec import load_app

    names = [load_app(path).name for path in args.apps]  # rows are keyed by the application's name
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        files = ", ".join(str(p) for p, n in zip(args.apps, names) if n == twice[0])
        raise ValueError(f"application {twice[0]!r} is given twice ({files}); give each application once")
    rows = []
    progress = _Progress(2 * len(SYSTEMS) * len(args.apps))
    for path in args.apps:
        app, options, opts = _inputs(args, path)
        rows += ablation_rows(app, options, args.gpus, opts, args.sim_duration_s, args.seed,
                              hold=None if args.no_hold else _hold(args), progress=progress)
    text = format_tsv(rows)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


class _Progress:
    """Prints each finished step of ``compare`` to stderr with the elapsed time and an estimate
    of the rest (the mean step time so far times the steps left; steps differ, so it is rough)."""

    def __init__(self, steps: int):
        self._clock = time.perf_counter
        self._start = self._clock()
        self._steps = steps
        self._done = 0

    def __call__(self, message: str) -> None:
        self._done += 1
        elapsed = self._clock() - self._start
        left = elapsed / self._done * (self._steps - self._done)
        print(f"[{self._done}/{self._steps} {elapsed:.0f} s, ~{left:.0f} s left] {message}", file=sys.stderr, flush=True)
