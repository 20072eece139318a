"""Run a placement or a time-switched schedule over request arrays with the chosen backend.

A ``PlacementSchedule`` is simulated segment by segment: requests arriving in
``[start_s[i], start_s[i+1])`` use segment ``i``'s placement (requests before ``start_s[0]`` use
segment 0). Each segment starts with fresh, idle clocks; requests admitted in an earlier segment
finish on their own groups as predicted. Switching is thus free and the old and new placements
briefly overlap, as in AlpaServe's Clockwork++ simulation.

Under ``fcfs`` (the default) each request's timeline is decided at its arrival (``kernel`` /
``reference``); any other queue discipline runs the stage-granular queue engine
(``discipline_kernel`` / ``discipline_reference``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from alpa_serve_like.core.plan import Placement, PlacementSchedule
from alpa_serve_like.scheduling import LatencyTables, SchedulingOptions, StageLatencyCache, build_latency_tables
from alpa_serve_like.simulator.discipline_kernel import simulate_segment_discipline_kernel
from alpa_serve_like.simulator.discipline_reference import simulate_segment_discipline_reference
from alpa_serve_like.simulator.kernel import KernelRun, SegmentArrays
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.reference import simulate_segment_reference

PROGRESS_CHUNK = 250_000
"""Requests per kernel call when progress is reported (the loop state carries over)."""


def as_schedule(placement: Placement | PlacementSchedule) -> PlacementSchedule:
    if isinstance(placement, PlacementSchedule):
        return placement
    if isinstance(placement, Placement):
        return PlacementSchedule(start_s=(0.0,), segments=(placement,))
    raise TypeError(f"expected a Placement or PlacementSchedule, got {type(placement).__name__}")


@dataclass(frozen=True, eq=False)
class SegmentRun:
    """Requests ``lo:hi`` simulated on ``placement``."""

    index: int
    lo: int
    hi: int
    placement: Placement
    out: SegmentArrays


def request_deadlines(arrival_s: np.ndarray, slo_s: np.ndarray, options: SchedulingOptions) -> np.ndarray:
    """Absolute deadline of each request: ``arrival + slo``, the SLO first rounded to float32 under
    ``options.float32_times`` (AlpaServe's rule set)."""
    if options.float32_times:
        slo_s = np.asarray(slo_s, dtype=np.float32).astype(np.float64)
    return arrival_s + slo_s


def segment_bounds(start_s: Sequence[float], arrival_s: np.ndarray) -> np.ndarray:
    """Request index where each segment begins, plus the end: ``len(start_s) + 1`` entries."""
    cuts = np.searchsorted(arrival_s, np.asarray(start_s[1:], dtype=np.float64), side="left")
    return np.concatenate(([0], cuts, [len(arrival_s)])).astype(np.int64)


def run_segments(
    placement: Placement | PlacementSchedule,
    arrival_s: np.ndarray,
    model_id: np.ndarray,
    deadline_s: np.ndarray,
    model_names: Sequence[str],
    cache: StageLatencyCache,
    options: SimOptions,
    progress: Callable[[int, int], None] | None = None,
) -> list[SegmentRun]:
    """Simulate every segment; ``progress(done, total)`` is called as requests are decided."""
    schedule = as_schedule(placement)
    bounds = segment_bounds(schedule.start_s, arrival_s)
    sched_opts = options.scheduling
    total, runs = len(arrival_s), []
    for i, seg in enumerate(schedule.segments):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        tables = build_latency_tables(seg, model_names, cache, sched_opts.pipeline_comm_factor,
                                      sched_opts.float32_times)
        out = run_segment(tables, arrival_s[lo:hi], model_id[lo:hi], deadline_s[lo:hi], options, progress, lo, total)
        runs.append(SegmentRun(i, lo, hi, seg, out))
    return runs


def run_segment(
    tables: LatencyTables,
    arrival_s: np.ndarray,
    model_id: np.ndarray,
    deadline_s: np.ndarray,
    options: SimOptions,
    progress: Callable[[int, int], None] | None = None,
    done_before: int = 0,
    total: int | None = None,
) -> SegmentArrays:
    """Simulate one segment's requests on ``tables`` with the backend and queue discipline of
    ``options``; ``progress(done_before + done, total)`` is called as requests are decided."""
    sched_opts = options.scheduling
    n = len(arrival_s)
    total = done_before + n if total is None else total
    if sched_opts.discipline != "fcfs" or options.queue_engine:
        # Later arrivals may overtake: real stage queues instead of decisions at arrival.
        if options.backend == "reference":
            out = simulate_segment_discipline_reference(tables, arrival_s, model_id, deadline_s, sched_opts)
        else:
            out = simulate_segment_discipline_kernel(tables, arrival_s, model_id, deadline_s, sched_opts,
                                                     jit=options.jit)
    elif options.backend == "reference":
        out = simulate_segment_reference(tables, arrival_s, model_id, deadline_s, sched_opts)
    else:
        run = KernelRun(tables, arrival_s, model_id, deadline_s, sched_opts, jit=options.jit)
        if progress is not None:
            for upto in range(PROGRESS_CHUNK, n + PROGRESS_CHUNK, PROGRESS_CHUNK):
                run.advance(upto)
                progress(done_before + min(upto, n), total)
        out = run.result()
    if progress is not None:
        progress(done_before + n, total)
    return out


def request_times(runs: list[SegmentRun], n: int, finish_overhead_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-request stage-0 start and finish: the last stage's plus ``finish_overhead_s`` (which
    occupies no device); NaN for rejected requests."""
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    for run in runs:
        b = run.out.batch
        ok = b >= 0
        start[run.lo:run.hi][ok] = run.out.batch_start_s[b[ok]]
        finish[run.lo:run.hi][ok] = run.out.batch_finish_s[b[ok]] + finish_overhead_s
    return start, finish
