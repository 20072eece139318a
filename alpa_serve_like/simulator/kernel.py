"""The fast simulator: one numba-compiled loop over request arrays.

It repeats, in arrays, exactly the arithmetic of ``alpa_serve_like.scheduling`` (which the
reference simulator drives), so both give the same decisions and bit-identical times; the parity
test checks this. Outstanding-request counts (for ``shortest_queue``) come from a per-group linked
list of batches in creation order, popped lazily when their finish is <= now: this equals the
reference's completion events, which are processed before an arrival at the same time.

Per request the loop has three places, in this order (``score_kernel`` has the same three): routing
(the candidate loop over the groups hosting the model), admission (the one ``if`` after it, which
compares finish + ``finish_overhead_s`` with the deadline) and dispatch (the commit into the clocks,
batch arrays and per-request outputs). A rule that rejects at dispatch goes between the last two.

``ALPA_SERVE_LIKE_DISABLE_JIT=1`` (or ``jit=False``) runs the same function uncompiled.
The compiled code is cached on disk (``cache=True``; ``NUMBA_CACHE_DIR`` is honoured).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from alpa_serve_like.scheduling import LatencyTables, SchedulingOptions, resolve_routing
from alpa_serve_like.scheduling.reasons import RejectReason

_REASON_SLO = int(RejectReason.SLO)
_REASON_UNPLACED = int(RejectReason.UNPLACED)
_REASON_DOOMED = int(RejectReason.DOOMED)


def _rejects_late(options: SchedulingOptions) -> bool:
    """Whether a request predicted to miss its deadline is turned away. Predictions are exact here,
    so ``drop_doomed_at_dispatch`` (drop at dispatch, no compute spent) decides the same requests as
    admission at arrival; ``KernelRun.result`` labels them ``doomed`` instead of ``slo``."""
    return bool(options.admission or options.drop_doomed_at_dispatch)


def _simulate_loop(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat,
                   dispatch_s, stage_overhead_s, join_slack_s, finish_overhead_s, routing_code, group_compute,
                   param_a, param_b, admission, max_batch, i_begin, i_end,
                   n_batches, free, base, busy, tail_rep, tail_batch, tail_size, tail_start, tail_min_dl,
                   outstanding, group_head, group_last, batch_next, batch_size, batch_start,
                   batch_finish, out_group, out_reason, out_batch):
    """Decide requests ``i_begin:i_end``; state arrays carry over between calls. Returns batches made.

    ``routing_code`` 3 is ELSA (``param_a``, ``param_b``: its alpha and beta), done in one pass: a
    candidate with enough slack beats any without, a smaller ``group_compute`` beats a larger one
    among those with it, and the earliest finish decides among those without; ties keep the lower
    group, as the reference's ascending-size scan does."""
    for i in range(i_begin, i_end):
        now = arrival[i]
        m = model_id[i]
        lo = host_ptr[m]
        hi = host_ptr[m + 1]
        if lo == hi:
            out_group[i] = -1
            out_reason[i] = _REASON_UNPLACED
            out_batch[i] = -1
            continue
        earliest = now + dispatch_s
        best_r = -1
        best_finish = np.inf
        best_q = 0
        best_join = False
        best_free = np.inf
        best_ok = False
        best_compute = np.inf
        for r in range(lo, hi):
            g = replica_group[r]
            n_st = num_stages[g]
            fin = 0.0
            start = max(earliest, free[g, 0])
            first_start = start
            for s in range(n_st):
                if s > 0:
                    start = max(fin, free[g, s])
                fin = start + lat[r, s, 0] + stage_overhead_s
            join = False
            if (max_batch > 1 and tail_rep[g] == r and tail_size[g] < max_batch
                    and earliest < tail_start[g]):
                b = tail_size[g]  # column of batch size b + 1
                jfin = 0.0
                start = tail_start[g]
                for s in range(n_st):
                    if s > 0:
                        start = max(jfin, base[g, s])
                    jfin = start + lat[r, s, b] + stage_overhead_s
                if jfin + finish_overhead_s <= tail_min_dl[g] and jfin <= fin + join_slack_s:
                    join = True
                    fin = jfin
                    first_start = tail_start[g]
            q = 0
            ok = False
            if routing_code == 1:
                head = group_head[g]
                while head >= 0 and batch_finish[head] <= now:
                    outstanding[g] -= batch_size[head]
                    head = batch_next[head]
                group_head[g] = head
                q = outstanding[g]
                better = q < best_q
            elif routing_code == 2:
                better = free[g, n_st - 1] < best_free
            elif routing_code == 3:
                # The reference's arithmetic, term for term, so both take the same side of ">".
                ok = deadline[i] - now > param_a * ((first_start - now) + param_b * (fin - first_start))
                if ok:
                    better = (not best_ok) or group_compute[g] < best_compute
                else:
                    better = (not best_ok) and fin < best_finish
            else:
                better = fin < best_finish
            if best_r < 0 or better:
                best_r = r
                best_finish = fin
                best_q = q
                best_join = join
                best_free = free[g, n_st - 1]
                best_ok = ok
                best_compute = group_compute[g]
        if admission and best_finish + finish_overhead_s > deadline[i]:
            out_group[i] = -1
            out_reason[i] = _REASON_SLO
            out_batch[i] = -1
            continue
        r = best_r
        g = replica_group[r]
        n_st = num_stages[g]
        fin = 0.0
        if best_join:
            k = tail_batch[g]
            b = tail_size[g]
            start = tail_start[g]
            for s in range(n_st):
                if s > 0:
                    start = max(fin, base[g, s])
                fin = start + lat[r, s, b] + stage_overhead_s
                free[g, s] = fin
                busy[g, s] += lat[r, s, b] - lat[r, s, b - 1]
            tail_size[g] = b + 1
            tail_min_dl[g] = min(tail_min_dl[g], deadline[i])
            batch_size[k] = b + 1
            batch_finish[k] = fin
        else:
            k = n_batches
            n_batches += 1
            start0 = max(earliest, free[g, 0])
            start = start0
            for s in range(n_st):
                base[g, s] = free[g, s]
                if s > 0:
                    start = max(fin, base[g, s])
                fin = start + lat[r, s, 0] + stage_overhead_s
                free[g, s] = fin
                busy[g, s] += lat[r, s, 0] + stage_overhead_s
            tail_rep[g] = r
            tail_batch[g] = k
            tail_size[g] = 1
            tail_start[g] = start0
            tail_min_dl[g] = deadline[i]
            batch_size[k] = 1
            batch_start[k] = start0
            batch_finish[k] = fin
            batch_next[k] = -1
            if group_head[g] < 0:
                group_head[g] = k
            else:
                batch_next[group_last[g]] = k
            group_last[g] = k
        outstanding[g] += 1
        out_group[i] = g
        out_reason[i] = 0
        out_batch[i] = k
    return n_batches


_compiled = None


def jit_disabled_by_env() -> bool:
    return os.environ.get("ALPA_SERVE_LIKE_DISABLE_JIT", "").strip() not in ("", "0")


def get_loop(jit: bool = True):
    """The compiled loop (numba, cached on disk), or the plain Python function."""
    global _compiled
    if not jit or jit_disabled_by_env():
        return _simulate_loop
    if _compiled is None:
        from alpa_serve_like.simulator.jit import njit_cached

        _compiled = njit_cached(_simulate_loop)
    return _compiled


@dataclass(frozen=True, eq=False)
class SegmentArrays:
    """What one simulation of one placement produced (local batch ids)."""

    group: np.ndarray  # int32 (N,), -1 when rejected
    reason: np.ndarray  # int8 (N,), RejectReason values
    batch: np.ndarray  # int64 (N,), -1 when rejected
    batch_start_s: np.ndarray  # float64 (n_batches,): stage-0 start
    batch_finish_s: np.ndarray  # float64 (n_batches,): last-stage finish
    busy_s: np.ndarray  # float64 (G, S_max): busy time of each stage


class KernelRun:
    """State of one kernel simulation, advanced chunk by chunk (for progress reporting)."""

    def __init__(self, tables: LatencyTables, arrival_s, model_id, deadline_s,
                 options: SchedulingOptions, jit: bool = True):
        entry = resolve_routing(options.routing)
        if entry.kernel_code is None:
            raise ValueError(f"routing policy {options.routing!r} has no kernel version; use backend='reference'")
        if options.max_batch_size > tables.max_batch_size:
            raise ValueError("latency tables were built for a smaller max_batch_size than the options ask for")
        self.tables, self.options, self.routing_code = tables, options, entry.kernel_code
        params = tuple(entry.kernel_params) + (0.0, 0.0)
        self.param_a, self.param_b = float(params[0]), float(params[1])
        compute = tables.group_compute
        self.group_compute = (np.ones(tables.num_groups) if compute is None
                              else np.ascontiguousarray(compute, dtype=np.float64))
        self.arrival_s, self.model_id, self.deadline_s = arrival_s, model_id, deadline_s
        self.loop = get_loop(jit)
        n, g = len(arrival_s), tables.num_groups
        s = tables.lat_s.shape[1]
        self.free = np.full((g, s), -np.inf)
        self.base = np.full((g, s), -np.inf)
        self.busy = np.zeros((g, s))
        self.tail_rep = np.full(g, -1, dtype=np.int64)
        self.tail_batch = np.full(g, -1, dtype=np.int64)
        self.tail_size = np.zeros(g, dtype=np.int64)
        self.tail_start = np.full(g, np.inf)
        self.tail_min_dl = np.full(g, np.inf)
        self.outstanding = np.zeros(g, dtype=np.int64)
        self.group_head = np.full(g, -1, dtype=np.int64)
        self.group_last = np.full(g, -1, dtype=np.int64)
        self.batch_next = np.empty(n, dtype=np.int64)
        self.batch_size = np.empty(n, dtype=np.int64)
        self.batch_start = np.empty(n)
        self.batch_finish = np.empty(n)
        self.out_group = np.empty(n, dtype=np.int32)
        self.out_reason = np.empty(n, dtype=np.int8)
        self.out_batch = np.empty(n, dtype=np.int64)
        self.n_batches = 0
        self.done = 0

    def advance(self, upto: int) -> None:
        """Decide requests ``done:upto``."""
        upto = min(upto, len(self.arrival_s))
        if upto <= self.done:
            return
        t, o = self.tables, self.options
        self.n_batches = int(self.loop(
            self.arrival_s, self.model_id, self.deadline_s, t.host_ptr, t.replica_group, t.num_stages,
            t.lat_s, float(o.dispatch_overhead_s), float(o.per_stage_overhead_s), float(o.batch_join_slack_s),
            float(o.finish_overhead_s), self.routing_code, self.group_compute, self.param_a, self.param_b,
            _rejects_late(o), int(o.max_batch_size), self.done, upto, self.n_batches,
            self.free, self.base, self.busy, self.tail_rep, self.tail_batch, self.tail_size,
            self.tail_start, self.tail_min_dl, self.outstanding, self.group_head, self.group_last,
            self.batch_next, self.batch_size, self.batch_start, self.batch_finish,
            self.out_group, self.out_reason, self.out_batch,
        ))
        self.done = upto

    def result(self) -> SegmentArrays:
        self.advance(len(self.arrival_s))
        if self.options.drop_doomed_at_dispatch and not self.options.admission:
            self.out_reason[self.out_reason == _REASON_SLO] = _REASON_DOOMED
        nb = self.n_batches
        return SegmentArrays(self.out_group, self.out_reason, self.out_batch,
                             self.batch_start[:nb], self.batch_finish[:nb], self.busy)
