"""The scorer's loop: the kernel's arithmetic specialised to what ``PlacementScorer`` needs.

``PlacementScorer.score`` needs only the number of SLO-meeting measured requests per model, so
this loop writes no per-request arrays, keeps no batch list and no busy times. It covers the
common case only: no batching (``max_batch_size == 1``) and a routing policy that needs no
outstanding-request counts (``earliest_finish``, ``last_stage_free``; ``score_queue_loop`` does
``shortest_queue``); ``PlacementScorer`` falls back to the general kernel otherwise. Times are
computed with exactly the arithmetic of ``scheduling.clocks.stage_times`` (same operations, same
order), so decisions are bit-identical to the general kernel and the reference simulator; the
parity tests check this.

The loop's state is the groups' stage clocks, and on real traffic consecutive requests mostly hit
the same group (bursts of one model: 78% of consecutive requests on issue 12's 1M-request case),
so one request's clocks wait for the last one's: the loop is bound by that chain's latency more
than by its instruction count. Hence per-model tables (``score_tables``) that pick each model's
path once per placement, so the loop reads one small table entry instead of walking replica ->
group -> stages: a model with one candidate group of one or two stages (most of a searched
placement) is timed in registers and committed by a branch on admission; one with two such
candidates is timed for both and chosen and committed with selects; one candidate of more
stages is timed, admitted, then re-timed to commit; otherwise the candidate loop keeps each
candidate's stage finishes in a scratch row so the chosen one is committed by copying. Clocks
are one flat row (group ``g``'s stage ``s`` at ``g * stride + s``, ``stride`` = most stages),
model ids are unsigned (numba then indexes with them without a negative-index fix-up), and a
request's deadline is rebuilt from its model's SLO when that is exact (one array less to read).
``score_split`` runs long segments on two threads by speculation.

Where the rules sit (for rules added later, e.g. dropping doomed requests): routing is the choice
of candidate, admission the test of ``finish + finish_overhead_s`` against the deadline (``good``,
and ``keep`` on the select paths), dispatch the commit into ``free``; ``kernel._simulate_loop`` has
the same three places in the same order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from alpa_serve_like.simulator.kernel import jit_disabled_by_env

ROUTE_EARLIEST_FINISH = 0
ROUTE_LAST_STAGE_FREE = 2

KIND_UNPLACED = 0
"""Path of a model hosted nowhere: its requests are rejected (``unplaced``)."""
KIND_ONE_1 = 1
"""One candidate group of one stage."""
KIND_ONE_2 = 2
"""One candidate group of two stages."""
KIND_ONE_N = 3
"""One candidate group of three or more stages."""
KIND_TWO = 4
"""Two candidate groups of one or two stages each."""
KIND_ANY = 5
"""Anything else: the candidate loop."""


class ScoreTables(NamedTuple):
    """One placement's tables in the loop's form (the loop takes them as ``*tables``; ``M``
    models, ``R`` candidate rows)."""

    kind: np.ndarray
    """uint8 (M,): ``KIND_*`` path of each model."""
    one_off: np.ndarray
    """uint32 (M,): flat clock offset of a one-candidate model's group (0 if none)."""
    one_lat0: np.ndarray
    """float64 (M,): its stage 0 latency at batch 1."""
    one_lat1: np.ndarray
    """float64 (M,): its stage 1 latency at batch 1 (0.0 if it has one stage)."""
    host_ptr: np.ndarray
    """int64 (M+1,): candidate rows of model m are ``host_ptr[m]:host_ptr[m+1]``."""
    rep_off: np.ndarray
    """uint32 (R,): flat clock offset of each candidate row's group."""
    rep_stages: np.ndarray
    """int64 (R,): stages of each candidate row's group."""
    lat1: np.ndarray
    """float64 (R, S_max): stage latencies of each candidate row at batch 1."""


def score_tables(host_ptr: np.ndarray, replica_group: np.ndarray, num_stages: np.ndarray,
                 lat1: np.ndarray) -> ScoreTables:
    """The loop's tables from a placement's ``LatencyTables`` fields (``lat1 = lat_s[:, :, 0]``);
    the loop's clock row is ``len(num_stages) * lat1.shape[1]`` long."""
    stride = lat1.shape[1]
    count = np.diff(host_ptr)
    rows = len(replica_group)
    rep_stages = num_stages[replica_group].astype(np.int64)
    rep_off = (replica_group * stride).astype(np.uint32)
    first = np.minimum(host_ptr[:-1], max(rows - 1, 0))
    if rows:
        first_stages = rep_stages[first]
        one_off = np.where(count == 1, rep_off[first], 0).astype(np.uint32)
        one_lat0 = np.where(count == 1, lat1[first, 0], 0.0)
        one_lat1 = np.where((count == 1) & (first_stages > 1), lat1[first, min(1, stride - 1)], 0.0)
        second_stages = rep_stages[np.minimum(first + 1, rows - 1)]
    else:
        first_stages = second_stages = np.zeros(len(count), dtype=np.int64)
        one_off = np.zeros(len(count), dtype=np.uint32)
        one_lat0 = one_lat1 = np.zeros(len(count))
    kind = np.full(len(count), KIND_ANY, dtype=np.uint8)
    kind[(count == 2) & (first_stages <= 2) & (second_stages <= 2)] = KIND_TWO
    kind[(count == 1) & (first_stages == 1)] = KIND_ONE_1
    kind[(count == 1) & (first_stages == 2)] = KIND_ONE_2
    kind[(count == 1) & (first_stages > 2)] = KIND_ONE_N
    kind[count == 0] = KIND_UNPLACED
    return ScoreTables(kind, one_off, np.ascontiguousarray(one_lat0), np.ascontiguousarray(one_lat1),
                       np.ascontiguousarray(host_ptr, dtype=np.int64), rep_off, rep_stages,
                       np.ascontiguousarray(lat1))


def _score_loop(arrival, model_id, deadline, slo_of_model, kind, one_off, one_lat0, one_lat1, host_ptr, rep_off,
                rep_stages, lat1, dispatch_s, stage_overhead_s, finish_overhead_s, routing_code, admission,
                i_measured, free, scratch, served):
    """Route, admit and commit every request of the arrays given (callers pass slices);
    ``served[m]`` += 1 per SLO-meeting request ``i >= i_measured``.

    ``free``: the flat stage clocks (carried in and out: the loop's whole state); ``scratch``:
    (max candidates of one model, S_max) floats. A request's deadline is
    ``deadline[i]``, or ``arrival[i] + slo_of_model[m]`` when ``slo_of_model`` is given (the same
    sum ``deadline`` was made with: one array less to read). ``stage_overhead_s`` and
    ``finish_overhead_s``: None when there is none. numba then compiles a version without the adds
    (it prunes ``is None`` branches on an argument's type): an add on the clocks' chain costs its
    latency on every request.
    """
    reject_none = not admission
    for i in range(len(arrival)):
        m = model_id[i]
        path = kind[m]
        if path == KIND_UNPLACED:
            continue
        now = arrival[i]
        earliest = now + dispatch_s
        if slo_of_model is None:
            due = deadline[i]
        else:
            due = now + slo_of_model[m]
        counted = i >= i_measured
        if path == KIND_ONE_2:
            # Same arithmetic as the candidate loop below. A branch on keep, not selects: the
            # stores then wait for no comparison, which shortens the chain through the clocks
            # (5.3 vs 5.6 ms on issue 12's 1M requests, measured), though SLO outcomes vary.
            o = one_off[m]
            a0 = free[o]
            a1 = free[o + 1]
            f0 = max(earliest, a0) + one_lat0[m]
            if stage_overhead_s is not None:
                f0 = f0 + stage_overhead_s
            fin = max(f0, a1) + one_lat1[m]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            done = fin
            if finish_overhead_s is not None:
                done = fin + finish_overhead_s
            good = done <= due
            if good or reject_none:
                free[o] = f0
                free[o + 1] = fin
            served[m] += good & counted
            continue
        if path == KIND_ONE_1:
            o = one_off[m]
            a0 = free[o]
            fin = max(earliest, a0) + one_lat0[m]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            done = fin
            if finish_overhead_s is not None:
                done = fin + finish_overhead_s
            good = done <= due
            if good or reject_none:
                free[o] = fin
            served[m] += good & counted
            continue
        lo = host_ptr[m]
        if path == KIND_TWO:
            # Both candidates timed, the choice and the commit made without branches (same keys
            # and tie rule as the candidate loop below: the second wins only when strictly
            # better); a one-stage candidate's "second stage" is its first.
            o0 = rep_off[lo]
            o1 = rep_off[lo + 1]
            two0 = rep_stages[lo] == 2
            two1 = rep_stages[lo + 1] == 2
            a00 = free[o0]
            a01 = free[o0 + 1] if two0 else a00
            a10 = free[o1]
            a11 = free[o1 + 1] if two1 else a10
            f00 = max(earliest, a00) + lat1[lo, 0]
            f10 = max(earliest, a10) + lat1[lo + 1, 0]
            if stage_overhead_s is not None:
                f00 = f00 + stage_overhead_s
                f10 = f10 + stage_overhead_s
            fin0 = f00
            fin1 = f10
            if two0:
                fin0 = max(f00, a01) + lat1[lo, 1]
                if stage_overhead_s is not None:
                    fin0 = fin0 + stage_overhead_s
            if two1:
                fin1 = max(f10, a11) + lat1[lo + 1, 1]
                if stage_overhead_s is not None:
                    fin1 = fin1 + stage_overhead_s
            if routing_code == ROUTE_LAST_STAGE_FREE:
                second = a11 < a01  # a01, a11: last stage's clock (stage 0's for one stage)
            else:
                second = fin1 < fin0
            o = o1 if second else o0
            f0 = f10 if second else f00
            fin = fin1 if second else fin0
            a0 = a10 if second else a00
            a1 = a11 if second else a01
            done = fin
            if finish_overhead_s is not None:
                done = fin + finish_overhead_s
            good = done <= due
            keep = good | reject_none
            free[o] = f0 if keep else a0
            if two1 if second else two0:
                free[o + 1] = fin if keep else a1
            served[m] += good & counted
            continue
        if path == KIND_ONE_N:
            # Three or more stages: timed once to decide admission, again to commit.
            o = rep_off[lo]
            n_st = rep_stages[lo]
            fin = max(earliest, free[o]) + lat1[lo, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            for s in range(1, n_st):
                fin = max(fin, free[o + s]) + lat1[lo, s]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
            done = fin
            if finish_overhead_s is not None:
                done = fin + finish_overhead_s
            good = done <= due
            if admission and not good:
                continue
            fin = max(earliest, free[o]) + lat1[lo, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            free[o] = fin
            for s in range(1, n_st):
                fin = max(fin, free[o + s]) + lat1[lo, s]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
                free[o + s] = fin
            served[m] += good & counted
            continue
        hi = host_ptr[m + 1]
        best_k = -1
        best_key = np.inf
        for r in range(lo, hi):
            k = r - lo
            o = rep_off[r]
            n_st = rep_stages[r]
            if routing_code == ROUTE_LAST_STAGE_FREE:
                key = free[o + n_st - 1]
                if best_k >= 0 and not key < best_key:
                    continue
            elif best_k >= 0:
                # Exact lower bound of this candidate's finish (rounding is monotone, so
                # fl(max(a, b) + l) >= fl(b + l)): a candidate that cannot finish strictly
                # earlier than the best so far loses (ties go to the lower index) and is not timed.
                bound = free[o + n_st - 1] + lat1[r, n_st - 1]
                if stage_overhead_s is not None:
                    bound = bound + stage_overhead_s
                if bound >= best_key:
                    continue
            fin = max(earliest, free[o]) + lat1[r, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            scratch[k, 0] = fin
            for s in range(1, n_st):
                fin = max(fin, free[o + s]) + lat1[r, s]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
                scratch[k, s] = fin
            if routing_code != ROUTE_LAST_STAGE_FREE:
                key = fin
                if best_k >= 0 and not key < best_key:
                    continue
            best_k = k
            best_key = key
        r = lo + best_k
        o = rep_off[r]
        n_st = rep_stages[r]
        done = scratch[best_k, n_st - 1]
        if finish_overhead_s is not None:
            done = done + finish_overhead_s
        good = done <= due
        if admission and not good:
            continue
        for s in range(n_st):
            free[o + s] = scratch[best_k, s]
        served[m] += good & counted


def _speculate(arrival, model_id, deadline, slo_of_model, kind, one_off, one_lat0, one_lat1, host_ptr, rep_off,
               rep_stages, lat1, dispatch_s, stage_overhead_s, finish_overhead_s, routing_code, admission,
               i_measured, i_begin, i_end, chunk, snaps, cums, free, scratch, served):
    """Score ``i_begin:i_end`` from a guessed state, keeping the state and the served counts before
    every chunk of ``chunk`` requests (``snaps[k]``, ``cums[k]``)."""
    k = 0
    for lo in range(i_begin, i_end, chunk):
        hi = min(lo + chunk, i_end)
        snaps[k] = free
        cums[k] = served
        k += 1
        _score_loop_compiled(arrival[lo:hi], model_id[lo:hi], deadline[lo:hi], slo_of_model, kind, one_off, one_lat0,
                             one_lat1, host_ptr, rep_off, rep_stages, lat1, dispatch_s, stage_overhead_s,
                             finish_overhead_s, routing_code, admission, i_measured - lo, free, scratch, served)


def _catch_up(arrival, model_id, deadline, slo_of_model, kind, one_off, one_lat0, one_lat1, host_ptr, rep_off,
              rep_stages, lat1, dispatch_s, stage_overhead_s, finish_overhead_s, routing_code, admission,
              i_measured, i_begin, i_end, chunk, snaps, free, scratch, served):
    """Continue from the true state at ``i_begin`` until it equals the speculative one at a chunk
    start; returns that chunk's index, or -1 after scoring everything up to ``i_end`` alone."""
    k = 0
    for lo in range(i_begin, i_end, chunk):
        hi = min(lo + chunk, i_end)
        same = True
        for x in range(len(free)):
            if free[x] != snaps[k, x]:
                same = False
        if same:
            return k
        _score_loop_compiled(arrival[lo:hi], model_id[lo:hi], deadline[lo:hi], slo_of_model, kind, one_off, one_lat0,
                             one_lat1, host_ptr, rep_off, rep_stages, lat1, dispatch_s, stage_overhead_s,
                             finish_overhead_s, routing_code, admission, i_measured - lo, free, scratch, served)
        k += 1
    return -1


_score_loop_compiled = None
_speculate_compiled = None
_catch_up_compiled = None


def get_score_loop(jit: bool = True):
    """The compiled score loop (numba, cached on disk), or the plain Python function."""
    if not jit or jit_disabled_by_env():
        return _score_loop
    _compile()
    return _score_loop_compiled


def get_speculation():
    """The compiled ``(speculate, catch_up)`` pair (used only with the compiled loop)."""
    _compile()
    return _speculate_compiled, _catch_up_compiled


def _compile() -> None:
    global _score_loop_compiled, _speculate_compiled, _catch_up_compiled
    if _score_loop_compiled is None:
        from alpa_serve_like.simulator.jit import njit_cached

        # _speculate and _catch_up call the loop through this global: bind it before they compile.
        # (Compilation is lazy: the speculation pair is loaded only when a long segment is split.)
        _score_loop_compiled = njit_cached(_score_loop)
        _speculate_compiled = njit_cached(_speculate)
        _catch_up_compiled = njit_cached(_catch_up)
