"""PlacementScorer: SLO attainment of many candidate placements on one fixed workload.

The placement optimizer calls ``score`` thousands of times, so everything that depends only on
the workload (request arrays, deadlines, per-model totals, the warm-up mask) is built once here,
and the per-(model, config) latency blocks are cached; per call only the placement's small dense
tables are assembled before the compiled kernel runs. Without batching, a specialised loop counts
SLO-meeting requests per model directly (``score_kernel`` for ``earliest_finish`` and
``last_stage_free``, ``score_queue_loop`` for ``shortest_queue``); with batching the general kernel
runs and its per-request output is reduced here.

A long segment is split over two threads (``threads=2``, the default on a machine with two or
more cores) by exact speculation (``score_split``); results are identical for any thread count.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from alpa_serve_like.core.plan import Placement, PlacementSchedule
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.scheduling import StageLatencyCache, build_latency_tables
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.simulator.engine import (as_schedule, request_deadlines, request_times, run_segments,
                                             segment_bounds)
from alpa_serve_like.simulator.kernel import _rejects_late
from alpa_serve_like.simulator.score_kernel import ROUTE_EARLIEST_FINISH, ROUTE_LAST_STAGE_FREE, score_tables
from alpa_serve_like.simulator.score_queue_loop import get_score_queue_loop
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.run import measured_mask
from alpa_serve_like.simulator.score_split import score_segment


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Score of one placement (measured requests only, i.e. after warm-up)."""

    attainment: float
    """SLO-meeting requests / all requests (NaN if there are none)."""
    model_names: tuple[str, ...]
    per_model_served: np.ndarray
    """int64 per model id: requests that met their SLO."""
    per_model_total: np.ndarray
    """int64 per model id: requests."""

    @property
    def per_model_attainment(self) -> np.ndarray:
        """float64 per model id; NaN for models without requests."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.per_model_served / np.where(self.per_model_total > 0, self.per_model_total, np.nan)


class PlacementScorer:
    """``PlacementScorer(workload, profiles, options).score(placement) -> ScoreResult``."""

    def __init__(self, workload: Workload, profiles: Mapping[str, ModelProfile], options: SimOptions | None = None,
                 threads: int | None = None):
        self.options = options or SimOptions()
        self.threads = min(2, os.cpu_count() or 1) if threads is None else threads
        if self.threads not in (1, 2):
            raise ValueError(f"PlacementScorer threads must be 1 or 2 (None: 2 when there are 2+ cores), got {threads!r}")
        self.model_names = workload.model_names
        self.arrival_s = workload.arrival_s
        self.model_id = workload.model_id
        self.deadline_s = request_deadlines(workload.arrival_s, workload.slo_s, self.options.scheduling)
        self.measured = measured_mask(self.arrival_s, self.options.warmup_s)
        self._all_measured = bool(self.measured.all())
        self._measured_ids = self.model_id if self._all_measured else self.model_id[self.measured]
        self.per_model_total = np.bincount(self._measured_ids, minlength=len(self.model_names)).astype(np.int64)
        self.cache = StageLatencyCache(profiles, self.options.scheduling.max_batch_size)
        self.calls = 0
        sched = self.options.scheduling
        self._fast_routing = {"earliest_finish": ROUTE_EARLIEST_FINISH,
                              "last_stage_free": ROUTE_LAST_STAGE_FREE}.get(sched.routing)
        self._queues = sched.routing == "shortest_queue"
        self._fast = (self.options.backend == "kernel" and sched.max_batch_size == 1
                      and (self._fast_routing is not None or self._queues)
                      # the specialised loops decide at arrival: fcfs only (others: the queue engine)
                      and sched.discipline == "fcfs" and not self.options.queue_engine)
        self._queue_buffers = None  # per-request lists of the shortest_queue loop, reused across calls
        self._i_measured = int(np.argmax(self.measured)) if self.measured.any() else len(self.arrival_s)
        if self._fast and not self._queues:
            # The score loop's own copy of the ids: unsigned, so numba indexes with them unchecked.
            self._model_id_loop = self.model_id.astype(np.uint16 if len(self.model_names) < 1 << 16 else np.uint32)
            self._slo_of_model = self._per_model_slo(workload.slo_s)

    def _per_model_slo(self, slo_s: np.ndarray) -> np.ndarray | None:
        """Each model's SLO when all its requests share it and ``arrival + slo[model]`` rebuilds every
        deadline exactly (the loop then reads no deadline array), else None."""
        per_model = np.zeros(len(self.model_names))
        if self.options.scheduling.float32_times:
            slo_s = np.asarray(slo_s, dtype=np.float32).astype(np.float64)
        per_model[self.model_id] = slo_s
        if np.array_equal(self.arrival_s + per_model[self.model_id], self.deadline_s):
            return per_model
        return None

    def score(self, placement: Placement | PlacementSchedule) -> ScoreResult:
        self.calls += 1
        if self._fast:
            served = self._served_fast(placement)
        else:
            served = self._served_general(placement)
        total = int(self.per_model_total.sum())
        attainment = float(served.sum() / total) if total else float("nan")
        return ScoreResult(attainment, self.model_names, served, self.per_model_total.copy())

    def _served_fast(self, placement) -> np.ndarray:
        schedule = as_schedule(placement)
        bounds = segment_bounds(schedule.start_s, self.arrival_s)
        sched = self.options.scheduling
        served = np.zeros(len(self.model_names), dtype=np.int64)
        for i, seg in enumerate(schedule.segments):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if hi <= lo:
                continue
            t = build_latency_tables(seg, self.model_names, self.cache, sched.pipeline_comm_factor,
                                     sched.float32_times)
            lat1 = np.ascontiguousarray(t.lat_s[:, :, 0])
            width = t.num_groups * lat1.shape[1]
            i_measured = max(self._i_measured - lo, 0)
            n = hi - lo
            if self._queues:
                args = (self.arrival_s[lo:hi], self.model_id[lo:hi], self.deadline_s[lo:hi], t.host_ptr,
                        t.replica_group, t.num_stages, lat1, float(sched.dispatch_overhead_s),
                        float(sched.per_stage_overhead_s) or None, float(sched.finish_overhead_s),
                        _rejects_late(sched), i_measured)
                self._score_queues(args, n, np.full((t.num_groups, lat1.shape[1]), -np.inf), served)
                continue
            tables = score_tables(t.host_ptr, t.replica_group, t.num_stages, lat1)
            hosts = max(int(np.diff(t.host_ptr).max()) if len(t.host_ptr) > 1 else 0, 1)
            args = (self.arrival_s[lo:hi], self._model_id_loop[lo:hi], self.deadline_s[lo:hi], self._slo_of_model,
                    *tables, float(sched.dispatch_overhead_s), float(sched.per_stage_overhead_s) or None,
                    float(sched.finish_overhead_s) or None, self._fast_routing, _rejects_late(sched))
            free = np.full(width, -np.inf)
            scratch = np.empty((hosts, lat1.shape[1]))
            score_segment(args, i_measured, free, scratch, served, self.threads, self.options.jit)
        return served

    def _score_queues(self, args, n, free, served) -> None:
        """Score requests ``0:n`` of one segment with ``shortest_queue`` routing (one thread)."""
        if self._queue_buffers is None:
            total = len(self.arrival_s)
            self._queue_buffers = (np.empty(total, dtype=np.int64), np.empty(total))
        next_req, finish_of = self._queue_buffers
        g = free.shape[0]
        host_ptr, replica_group = args[3], args[4]
        several = np.repeat(np.diff(host_ptr) > 1, np.diff(host_ptr))  # per replica row: its model has several
        queued = np.zeros(g, dtype=np.bool_)
        queued[replica_group[several]] = True
        head, tail, count = np.full(g, -1, dtype=np.int64), np.full(g, -1, dtype=np.int64), np.zeros(g, dtype=np.int64)
        get_score_queue_loop(self.options.jit)(*args, 0, n, free, queued, head, tail, count, next_req,
                                               finish_of, served)

    def _served_general(self, placement) -> np.ndarray:
        runs = run_segments(placement, self.arrival_s, self.model_id, self.deadline_s, self.model_names,
                            self.cache, self.options)
        good = self._good(runs)
        if not self._all_measured:
            good &= self.measured
        return np.bincount(self.model_id[good], minlength=len(self.model_names)).astype(np.int64)

    def _good(self, runs) -> np.ndarray:
        admitted = np.concatenate([r.out.reason == 0 for r in runs]) if runs else np.zeros(0, bool)
        if self.options.scheduling.admission:
            # Admission and the batching rule guarantee every admitted request meets its deadline.
            return admitted
        _, finish = request_times(runs, len(self.arrival_s), self.options.scheduling.finish_overhead_s)
        return admitted & (finish <= self.deadline_s)
