"""Run Paella points in worker processes, one TSV row per (figure, system, model, load or U), resumable.

``point_rows`` is the whole computation of one point: cost the CNN kernels for the device
(``cost_model.cnn_kernels`` on the shipped layer table), draw the lognormal workload, run the
kernel-level simulator. ``run_paella_points`` shares the AlpaServe experiments' TSV handling
(``results``): points already in the file are skipped (crashed ones are computed again), rows are
flushed as they finish, and the file is finally rewritten in suite order. One file holds one
setting (device, jobs a point, sigma, seed): a file of another is refused, as the plot would draw
both in one line.
"""
from __future__ import annotations

import math
import multiprocessing
import sys
import time
import traceback
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np

from alpa_serve_like.osdi_artifact.paella_suite import FAIRNESS_MODELS, MAX_OUTSTANDING, MIXES, PaellaPoint
from alpa_serve_like.osdi_artifact.results import ResultsFileError, RowWriter, read_rows, rewrite_in_order, write_rows
from alpa_serve_like.osdi_artifact.runner import default_jobs

PAELLA_COLUMNS = (
    "figure", "system", "model", "offered_rps", "throughput_rps", "mean_ms", "p99_ms", "fairness_threshold",
    "load_scale", "device", "num_jobs", "sigma", "seed", "max_outstanding", "sim_s", "error", "point", "key",
)


def _fmt(x: float, digits: int = 6) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


@lru_cache(maxsize=None)
def device_kernels(device: str) -> dict:
    """Kernel sequence of every shipped CNN on ``device`` (simulator ``Kernel`` values)."""
    from alpa_serve_like.core.gpu_sm import get_gpu_sm_spec
    from alpa_serve_like.cost_model.cnn_kernels import model_kernels
    from alpa_serve_like.cost_model.cnn_layers import load_layers
    from alpa_serve_like.simulator.gpu_kernels import Kernel

    spec = get_gpu_sm_spec(device)
    return {m: tuple(Kernel(**k.kernel_fields()) for k in model_kernels(layers, spec))
            for m, layers in load_layers().items()}


def serial_capacity_rps(device: str, mix: dict[str, float]) -> float:
    """Jobs/s of the mix when the GPU runs one kernel at a time."""
    kernels = device_kernels(device)
    total = sum(mix.values())
    mean_s = sum(share / total * sum(k.duration_s for k in kernels[m]) for m, share in mix.items())
    return 1.0 / mean_s


def point_rows(point: PaellaPoint) -> list[dict]:
    """The TSV rows of ``point``: model "all", plus one per model of the fairness figure."""
    from alpa_serve_like.core.gpu_sm import get_gpu_sm_spec
    from alpa_serve_like.simulator.gpu_kernels import lognormal_jobs, simulate_gpu

    mix = MIXES[point.figure]
    offered = point.load_scale * serial_capacity_rps(point.device, mix)
    rng = np.random.default_rng(point.seed)
    arrival, models = lognormal_jobs(rng, offered, point.sigma, mix, point.num_jobs)
    tic = time.perf_counter()
    result = simulate_gpu(arrival, models, device_kernels(point.device), get_gpu_sm_spec(point.device),
                          point.system, point.fairness_threshold, MAX_OUTSTANDING[point.figure])
    sim_s = time.perf_counter() - tic
    base = dict(figure=point.figure, system=point.system, offered_rps=_fmt(offered),
                throughput_rps=_fmt(result.throughput_rps()), fairness_threshold=_fmt(point.fairness_threshold),
                load_scale=_fmt(point.load_scale), device=point.device, num_jobs=point.num_jobs,
                sigma=_fmt(point.sigma), seed=point.seed, max_outstanding=MAX_OUTSTANDING[point.figure],
                sim_s=_fmt(sim_s, 3), error="", point=point.key)
    rows = []
    for model in ("all",) + (FAIRNESS_MODELS if point.figure == "fairness" else ()):
        m = None if model == "all" else model
        ran = m is None or m in result.model  # a short quick run may draw no job of a rare model
        rows.append({**base, "model": model, "mean_ms": _fmt(1e3 * result.mean_s(m)) if ran else "nan",
                     "p99_ms": _fmt(1e3 * result.p99_s(m)) if ran else "nan", "key": f"{point.key}|{model}"})
    return rows


def _work(point: PaellaPoint) -> list[dict]:
    try:
        return point_rows(point)
    except Exception:  # a bug in one point must not lose the finished rows of the others
        return [{"figure": point.figure, "system": point.system, "model": "all", "point": point.key,
                 "key": f"{point.key}|all", "mean_ms": "nan", "p99_ms": "nan",
                 "error": "crash: " + traceback.format_exc(limit=3).replace("\n", " | ").replace("\t", " ")}]


def _setting(device, num_jobs, sigma, seed) -> str:
    return f"device {device}, {num_jobs} jobs a point, sigma {sigma}, seed {seed}"


def run_paella_points(points: Sequence[PaellaPoint], out: str, jobs: int | None = None,
                      progress: bool = True) -> dict:
    """Compute every point not yet in ``out``; counts ``done_before``, ``ran``, ``failures``, ``seconds``."""
    from tqdm import tqdm

    rows = read_rows(out, PAELLA_COLUMNS)
    kept = [r for r in rows if not r["error"].startswith("crash:")]  # no result: computed again
    if len(kept) < len(rows):
        write_rows(out, kept, PAELLA_COLUMNS)
    ours = {_setting(p.device, p.num_jobs, _fmt(p.sigma), p.seed) for p in points}
    others = Counter(_setting(r["device"], r["num_jobs"], r["sigma"], r["seed"]) for r in kept)
    others = {s: n for s, n in others.items() if s not in ours}
    if others:
        said = "; ".join(f"{n} row{'s' if n != 1 else ''} of {s}" for s, n in sorted(others.items()))
        raise ResultsFileError(f"{out} holds {said}; this run is {', '.join(sorted(ours))}: choose another --out")
    done = {r["point"] for r in kept}
    todo = [p for p in points if p.key not in done]
    jobs = max(1, min(jobs or default_jobs(), len(todo) or 1))
    tic = time.perf_counter()
    failures = 0
    with RowWriter(out, PAELLA_COLUMNS) as writer, tqdm(total=len(todo), disable=not progress, unit="pt",
                                                       file=sys.stderr, dynamic_ncols=True) as bar:
        def record(rows):
            nonlocal failures
            for row in rows:
                writer.write(row)
            failures += any(r.get("error") for r in rows)
            bar.update(1)

        if jobs == 1:
            for p in todo:
                record(_work(p))
        elif todo:
            with multiprocessing.get_context("spawn").Pool(jobs) as pool:
                for rows in pool.imap_unordered(_work, todo, chunksize=1):
                    record(rows)
    order = [f"{p.key}|{m}" for p in points for m in ("all",) + FAIRNESS_MODELS]
    rewrite_in_order(out, order, PAELLA_COLUMNS)
    return {"done_before": len(points) - len(todo), "ran": len(todo), "failures": failures,
            "seconds": time.perf_counter() - tic}
