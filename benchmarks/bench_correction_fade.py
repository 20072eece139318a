"""The latency correction's fade on a fake clock: slow spells, lasting slowdowns, quiet traffic.

Runs ``tests/unit/test_admission_margin.py``'s harness (one one-stage group, Poisson arrivals,
heavy-tailed compute noise, the runtime's own ``Scheduler``, ``LatencyCorrection`` and
``OverheadEstimator``; no Ray, no real time) once per half-life and seed, and prints the admitted
share, the admitted requests' attainment and, under spells, the seconds from each spell's end to the
next admission (``inf``: never again). Deterministic; no timing, so no lock is needed.

Cases: ``spell`` compute 20x its profile for 2 s of every 20 s, 30% load; ``lasting`` 2x for good
at 2 and 10 req/s (where a fade costs: it forgets a correction between requests); ``quiet`` no
slowdown, 30% load. ``inf`` is the correction without a fade (what main had before it).

Run:  .venv/bin/python benchmarks/bench_correction_fade.py [--half-lives inf 1 2 4] [--seeds 4]
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..", "tests", "unit")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half-lives", nargs="+", type=float, default=[math.inf, 1.0, 2.0, 4.0])
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    from test_admission_margin import STAGE_S, serve, spell_waits_s  # the test's harness, not a copy

    from alpa_serve_like.scheduling import LatencyCorrection

    spell = (20.0, 2.0, 20.0)
    cases = [("spell", 0.3, spell, 8000), ("lasting 2x", 0.02, (1e9, 1e9, 2.0), 2000),
             ("lasting 2x", 0.1, (1e9, 1e9, 2.0), 2000), ("quiet", 0.3, None, 8000)]
    for name, load, slow, n in cases:
        for half_life_s in args.half_lives:
            rows = []
            for seed in range(args.seeds):
                admitted_at = []
                share, attainment = serve(0.99, load / STAGE_S, np.random.default_rng(seed), n=n, spell=slow,
                                          correction=LatencyCorrection(1, 1, half_life_s=half_life_s),
                                          admitted_at=admitted_at)
                waits = spell_waits_s(admitted_at, spell[0], spell[1], 250.0) if slow is spell else [0.0]
                rows.append((share, attainment, max(waits), float(np.mean(waits))))
            share, attainment, worst, mean = (np.array(c) for c in zip(*rows))
            line = (f"{name:10s} {load * 100:3.0f}% load  half-life {half_life_s:4g} s: admitted "
                    f"{share.min():.3f}-{share.max():.3f}  attainment {attainment.min():.4f}-{attainment.max():.4f}")
            if slow is spell:
                line += f"  wait after a spell: max {worst.max():.2f} s, mean {mean.min():.2f}-{mean.max():.2f} s"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
