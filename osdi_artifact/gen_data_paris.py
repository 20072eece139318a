"""PARIS + ELSA vs homogeneous MIG partitionings (FIFO / least-loaded dispatch), sweeping load.

Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_paris [--quick] --out X.tsv``; then
``plot_paris X.tsv``. One TSV row per (SLO scale, load, configuration, dispatch); see
``paris_experiment`` for the traffic, the configurations and the SLO, README.md for run times.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace

from alpa_serve_like.osdi_artifact.gen_data_cli import script_parser
from alpa_serve_like.osdi_artifact.paris_experiment import run_point, suite
from alpa_serve_like.osdi_artifact.results import RowWriter

COLUMNS = ("config", "partitions", "dispatch", "load_rps", "slo_scale", "slo_attainment", "p95_ms",
           "throughput_rps", "gpus", "network", "slo_ms", "queries", "sim_s")


def main(argv=None) -> int:
    p = script_parser("paris", "simulate PARIS+ELSA and homogeneous MIG partitionings; write a TSV",
                      "3 loads, 10 s of traffic per point (about 20 s)", "paris.tsv")
    p.add_argument("--backend", choices=("kernel", "reference"), default="kernel",
                   help="numba kernel (fast) or the reference event-heap simulator (same decisions)")
    args = p.parse_args(argv)
    points = [replace(point, backend=args.backend) for point in suite(args.quick)]
    out = args.out
    t0 = time.perf_counter()
    with RowWriter(out, COLUMNS, overwrite=True) as w:
        for i, point in enumerate(points, start=1):
            row = run_point(point)
            w.write({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
            if i % 20 == 0 or i == len(points):
                print(f"{i}/{len(points)} points, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(f"wrote {out} ({len(points)} rows) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
