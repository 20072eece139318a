"""Paella (SOSP'23) figures on the kernel-level GPU model: six systems, 8-model and 2-model mixes, U sweep.

Writes one TSV row per (figure, system, model or "all", load or U); see paella_suite for the points
and README.md for run times. Usage:
``python -m alpa_serve_like.osdi_artifact.gen_data_paella [--quick] [--out X.tsv] [--jobs N] [--device t4]``
"""
from __future__ import annotations

import argparse
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import positive_int
from alpa_serve_like.osdi_artifact.paella_runner import run_paella_points
from alpa_serve_like.osdi_artifact.paella_suite import paella_points
from alpa_serve_like.osdi_artifact.runner import default_jobs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m alpa_serve_like.osdi_artifact.gen_data_paella",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="200 jobs a point, two loads, two values of U (seconds)")
    p.add_argument("--out", default=None, help="results TSV (default paella[_quick][_DEVICE][_sigmaS].tsv, the "
                                               "device and sigma when not t4 and 1.5); an existing file is resumed")
    p.add_argument("--jobs", type=positive_int, default=None, help=f"worker processes (default: all cores, {default_jobs()})")
    p.add_argument("--device", default="t4", choices=["t4", "v100", "a100", "h100"], help="GPU (Paella used a T4)")
    p.add_argument("--sigma", type=float, default=1.5, help="lognormal sigma of inter-arrival times (Paella: 1.5, 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.sigma >= 0:  # else every point became a crash row, one after the other
        p.error(f"--sigma must be >= 0 (0: evenly spaced arrivals), got {args.sigma:g}")
    # one default file per setting: a resumed file of another device or sigma is refused
    out = args.out or (f"paella{'_quick' if args.quick else ''}{'' if args.device == 't4' else '_' + args.device}"
                       f"{'' if args.sigma == 1.5 else f'_sigma{args.sigma:g}'}.tsv")
    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(out)
    except ValueError as exc:
        print(f"gen_data_paella: {exc}", file=sys.stderr)
        return 2
    stats = run_paella_points(paella_points(args.quick, args.device, args.sigma), out, args.jobs,
                              progress=not args.no_progress)
    print(f"{out}: {stats['ran']} points computed in {stats['seconds']:.1f} s ({stats['done_before']} already there, "
          f"{stats['failures']} crashed; see the error column)")
    return 0 if stats["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
