"""``simulate``: one call from (placement or schedule, workload, profiles) to a SimResult."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from alpa_serve_like.core.plan import Placement, PlacementSchedule
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.scheduling import StageLatencyCache
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.simulator.engine import SegmentRun, as_schedule, request_deadlines, request_times, run_segments
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.result import SimResult


def measured_mask(arrival_s: np.ndarray, warmup_s: float) -> np.ndarray:
    """Requests counted in metrics: those arriving >= ``warmup_s`` after the first arrival."""
    if len(arrival_s) == 0 or warmup_s <= 0.0:
        return np.ones(len(arrival_s), dtype=bool)
    return arrival_s >= arrival_s[0] + warmup_s


def simulate(
    placement: Placement | PlacementSchedule,
    workload: Workload,
    profiles: Mapping[str, ModelProfile],
    options: SimOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate serving ``workload`` on ``placement``; see the package docstring for semantics.

    ``profiles`` maps every model name hosted by the placement (and named by the workload) to its
    profile. ``progress(done, total)`` is called while long runs proceed.
    """
    options = options or SimOptions()
    schedule = as_schedule(placement)
    for seg in schedule.segments:
        if seg.is_mixed:  # one profile table per model cannot price groups on different devices
            raise ValueError(f"placement runs groups on several device types ({', '.join(map(str, seg.device_types))}); "
                             "simulate it with simulator.mixed.simulate_plan and profiles per device type")
    cache = StageLatencyCache(profiles, options.scheduling.max_batch_size)
    arrival, model_id = workload.arrival_s, workload.model_id
    deadline = request_deadlines(arrival, workload.slo_s, options.scheduling)
    runs = run_segments(schedule, arrival, model_id, deadline, workload.model_names, cache, options, progress)
    return result_from_runs(schedule, runs, workload, deadline, options, _describe(schedule))


def result_from_runs(schedule: PlacementSchedule, runs: list[SegmentRun], workload: Workload, deadline_s: np.ndarray,
                     options: SimOptions, description: str) -> SimResult:
    """The SimResult of ``runs`` (every segment of ``schedule`` over ``workload``, with absolute
    deadlines ``deadline_s`` from ``request_deadlines``); ``description`` names the placement."""
    arrival, model_id = workload.arrival_s, workload.model_id
    n = len(arrival)
    segment = np.zeros(n, dtype=np.int32)
    group = np.full(n, -1, dtype=np.int32)
    reason = np.zeros(n, dtype=np.int8)
    batch = np.full(n, -1, dtype=np.int64)
    start, finish = request_times(runs, n, options.scheduling.finish_overhead_s)
    utilisation, batch_offset = [], 0
    for k, run in enumerate(runs):
        sl = slice(run.lo, run.hi)
        segment[sl] = run.index
        group[sl] = run.out.group
        reason[sl] = run.out.reason
        b = run.out.batch
        batch[sl] = np.where(b >= 0, b + batch_offset, -1)
        batch_offset += len(run.out.batch_start_s)
        utilisation.append(_utilisation(run, runs, k, schedule, arrival, finish))
    return SimResult(
        model_names=workload.model_names, arrival_s=arrival, model_id=model_id, deadline_s=deadline_s,
        segment=segment, group=group, reason=reason, batch=batch, start_s=start, finish_s=finish,
        measured=measured_mask(arrival, options.warmup_s), group_utilisation=tuple(utilisation),
        options=options, meta={"placement": description},
    )


def _utilisation(run, runs, k, schedule, arrival, finish) -> np.ndarray:
    busiest = run.out.busy_s.max(axis=1) if run.out.busy_s.size else np.zeros(len(run.placement.groups))
    lo = schedule.start_s[k] if k > 0 else (arrival[0] if len(arrival) else 0.0)
    hi = schedule.start_s[k + 1] if k + 1 < len(runs) else (arrival[-1] if len(arrival) else lo)
    seg_finish = finish[run.lo:run.hi]
    if np.isfinite(seg_finish).any():
        hi = max(hi, float(np.nanmax(seg_finish)))
    span = hi - lo
    return busiest / span if span > 0 else np.full(len(busiest), np.nan)


def _describe(schedule: PlacementSchedule) -> str:
    if len(schedule.segments) == 1:
        return schedule.segments[0].summary()
    return f"{len(schedule.segments)} segments, first: {schedule.segments[0].summary()}"
