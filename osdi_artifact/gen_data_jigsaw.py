"""Compound applications (issue 15, after JigsawServe): maximum serviceable demand, GPU slices used
and simulated SLO violations of the full optimizer and its ablations on the example applications.
Plans hold in simulation at their demand (``compound.holding``; checks on ``--seed`` + 1, reported
rates on ``--seed``) unless ``--no-hold``.

Not an AlpaServe experiment: the setup is ours (see README, "Compound applications"). One TSV row per
(application, system) with the columns of ``alpa_serve_like.compound.report.COLUMNS``.

Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_jigsaw [--quick] --out X.tsv``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from alpa_serve_like.osdi_artifact.gen_data_cli import positive_int

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main(argv=None) -> int:
    from alpa_serve_like.cli.common_args import check_out_path
    from alpa_serve_like.compound.app_spec import load_app
    from alpa_serve_like.compound.holding import HoldOptions
    from alpa_serve_like.compound.optimizer import OptimizerOptions
    from alpa_serve_like.compound.report import ablation_rows, format_tsv
    from alpa_serve_like.compound.slice_table import option_table
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name if __spec__ else __name__}",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 GPUs and 10 s of simulated arrivals")
    parser.add_argument("--out", required=True, metavar="X.tsv")
    parser.add_argument("--apps", nargs="*", default=None,
                        help=f"application files (default: {EXAMPLES}/compound_*.json)")
    parser.add_argument("--gpus", type=positive_int, default=None, help="GPUs (default 8, --quick 4)")
    parser.add_argument("--device", default="a100-80gb")
    parser.add_argument("--sim-duration-s", type=float, default=None, help="default 60, --quick 10")
    parser.add_argument("--seed", type=int, default=0, help="seed of the reported simulations (default 0)")
    parser.add_argument("--no-hold", action="store_true",
                        help="plans from the MILP alone (default: tightened until they hold in simulation)")
    args = parser.parse_args(argv)
    if args.sim_duration_s is not None and not args.sim_duration_s > 0:  # else every violation rate was nan
        parser.error(f"--sim-duration-s must be > 0, got {args.sim_duration_s:g}")
    gpus = args.gpus or (4 if args.quick else 8)
    duration = args.sim_duration_s if args.sim_duration_s is not None else (10.0 if args.quick else 60.0)
    paths = args.apps or sorted(str(p) for p in EXAMPLES.glob("compound_*.json"))
    if not paths:
        print(f"gen_data_jigsaw: no applications found under {EXAMPLES}; pass --apps", file=sys.stderr)
        return 1
    db = ProfilingDatabase.load(default_database_path())
    try:  # every input checked before the first (long) search, not after it
        check_out_path(args.out)
        apps = [load_app(path) for path in paths]
        tables = [option_table(app, db, args.device) for app in apps]
    except (ValueError, KeyError, OSError) as exc:
        print(f"gen_data_jigsaw: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    rows = []
    t0 = time.perf_counter()
    for app, table in zip(apps, tables):
        # Checks run 60 s whatever --quick says: 10 s of arrivals is too few requests to judge 1%.
        hold = None if args.no_hold else HoldOptions(seed=args.seed + 1)
        rows += ablation_rows(app, table, gpus, OptimizerOptions(), duration, args.seed, hold=hold)
    Path(args.out).write_text(format_tsv(rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
