"""The scorer's loop: the kernel's arithmetic specialised to what ``PlacementScorer`` needs.

``PlacementScorer.score`` needs only the number of SLO-meeting measured requests per model, so
this loop writes no per-request arrays, keeps no batch list and no busy times. It covers the
common case only: no batching (``max_batch_size == 1``) and a routing policy that needs no
outstanding-request counts (``earliest_finish``, ``last_stage_free``; ``score_queue_loop`` does
``shortest_queue``); ``PlacementScorer`` falls back to the general kernel otherwise. Times are
computed with exactly the arithmetic of ``scheduling.clocks.stage_times`` (same operations, same
order), so decisions are bit-identical to the general kernel and the reference simulator; the
parity tests check this.

Paths, by how common they are in a searched placement: a request with one candidate group of one
or two stages, and one with two such candidates, is timed in registers and committed with selects
instead of branches (whether a request meets its SLO is what varies from request to request, and
a mispredicted branch costs more than the stores); one candidate of more stages is timed, admitted,
then re-timed to commit; otherwise the candidate loop keeps each candidate's stage finishes in a
scratch row so the chosen one is committed by copying.

Where the rules sit (for rules added later, e.g. dropping doomed requests): routing is the choice
of candidate, admission the test of ``finish + finish_overhead_s`` against the deadline (``good``,
and ``keep`` on the select paths), dispatch the commit into ``free``; ``kernel._simulate_loop`` has
the same three places in the same order.
"""
from __future__ import annotations

import numpy as np

from alpa_serve_like.simulator.kernel import jit_disabled_by_env

ROUTE_EARLIEST_FINISH = 0
ROUTE_LAST_STAGE_FREE = 2


def _score_loop(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
                stage_overhead_s, finish_overhead_s, routing_code, admission, i_measured, i_begin, i_end,
                free, scratch, served):
    """Route, admit and commit requests ``i_begin:i_end``; ``served[m]`` += 1 per SLO-meeting request
    ``i >= i_measured``.

    ``lat1[r, s]``: stage latency of replica ``r`` at batch 1; ``free[g, s]``: stage clocks (carried
    in and out: the loop's whole state); ``scratch``: (max replicas of one model, S_max) floats.
    ``stage_overhead_s``: None when there is none. numba then compiles a version without the adds
    (it prunes ``is None`` branches on an argument's type): a branch or a "+ 0.0" on every stage
    lengthens the dependency chain through the clocks (measured 1.3 ms of 8 on 1M requests).
    """
    reject_none = not admission
    for i in range(i_begin, i_end):
        m = model_id[i]
        lo = host_ptr[m]
        hi = host_ptr[m + 1]
        if lo == hi:
            continue
        now = arrival[i]
        earliest = now + dispatch_s
        if hi - lo == 1:
            # One candidate (most requests of a searched placement): no routing, and the stage
            # times stay in registers; timed once to decide admission and again to commit.
            g = replica_group[lo]
            n_st = num_stages[g]
            if n_st == 2:
                # Without branches on the outcome: whether a request meets its SLO is what varies
                # from request to request, and a mispredicted branch costs more than both stores.
                # Same arithmetic as the general path below.
                a0 = free[g, 0]
                a1 = free[g, 1]
                f0 = max(earliest, a0) + lat1[lo, 0]
                if stage_overhead_s is not None:
                    f0 = f0 + stage_overhead_s
                fin = max(f0, a1) + lat1[lo, 1]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
                good = fin + finish_overhead_s <= deadline[i]
                keep = good | reject_none  # bitwise: 'or' would branch on good
                free[g, 0] = f0 if keep else a0
                free[g, 1] = fin if keep else a1
                served[m] += good & (i >= i_measured)
                continue
            if n_st == 1:
                a0 = free[g, 0]
                fin = max(earliest, a0) + lat1[lo, 0]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
                good = fin + finish_overhead_s <= deadline[i]
                keep = good | reject_none
                free[g, 0] = fin if keep else a0
                served[m] += good & (i >= i_measured)
                continue
            # Three or more stages: timed once to decide admission, again to commit.
            fin = max(earliest, free[g, 0]) + lat1[lo, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            for s in range(1, n_st):
                fin = max(fin, free[g, s]) + lat1[lo, s]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
            done = fin + finish_overhead_s
            if admission and done > deadline[i]:
                continue
            fin = max(earliest, free[g, 0]) + lat1[lo, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            free[g, 0] = fin
            for s in range(1, n_st):
                fin = max(fin, free[g, s]) + lat1[lo, s]
                if stage_overhead_s is not None:
                    fin = fin + stage_overhead_s
                free[g, s] = fin
            if i >= i_measured and done <= deadline[i]:
                served[m] += 1
            continue
        if hi - lo == 2 and num_stages[replica_group[lo]] <= 2 and num_stages[replica_group[lo + 1]] <= 2:
            # Two candidates of one or two stages: both timed, the choice and the commit made
            # without branches (same keys and tie rule as the candidate loop below: the second
            # wins only when strictly better).
            g0 = replica_group[lo]
            g1 = replica_group[lo + 1]
            two0 = num_stages[g0] == 2
            two1 = num_stages[g1] == 2
            a00 = free[g0, 0]
            a01 = free[g0, 1] if two0 else a00
            a10 = free[g1, 0]
            a11 = free[g1, 1] if two1 else a10
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
            g = g1 if second else g0
            f0 = f10 if second else f00
            fin = fin1 if second else fin0
            a0 = a10 if second else a00
            a1 = a11 if second else a01
            good = fin + finish_overhead_s <= deadline[i]
            keep = good | reject_none
            free[g, 0] = f0 if keep else a0
            if two1 if second else two0:
                free[g, 1] = fin if keep else a1
            served[m] += good & (i >= i_measured)
            continue
        best_k = -1
        best_key = np.inf
        for r in range(lo, hi):
            k = r - lo
            g = replica_group[r]
            n_st = num_stages[g]
            if routing_code == ROUTE_LAST_STAGE_FREE:
                key = free[g, n_st - 1]
                if best_k >= 0 and not key < best_key:
                    continue
            elif best_k >= 0:
                # Exact lower bound of this candidate's finish (rounding is monotone, so
                # fl(max(a, b) + l) >= fl(b + l)): a candidate that cannot finish strictly earlier
                # than the best so far loses (ties go to the lower index) and is not timed.
                bound = free[g, n_st - 1] + lat1[r, n_st - 1]
                if stage_overhead_s is not None:
                    bound = bound + stage_overhead_s
                if bound >= best_key:
                    continue
            start = max(earliest, free[g, 0])
            fin = start + lat1[r, 0]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            scratch[k, 0] = fin
            for s in range(1, n_st):
                start = max(fin, free[g, s])
                fin = start + lat1[r, s]
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
        g = replica_group[r]
        n_st = num_stages[g]
        done = scratch[best_k, n_st - 1] + finish_overhead_s
        if admission:
            if done > deadline[i]:
                continue
        for s in range(n_st):
            free[g, s] = scratch[best_k, s]
        if i >= i_measured and done <= deadline[i]:
            served[m] += 1


def _speculate(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
               stage_overhead_s, finish_overhead_s, routing_code, admission, i_measured, i_begin, i_end,
               chunk, snaps, cums, free, scratch, served):
    """Score ``i_begin:i_end`` from a guessed state, keeping the state and the served counts before
    every chunk of ``chunk`` requests (``snaps[k]``, ``cums[k]``)."""
    k = 0
    for lo in range(i_begin, i_end, chunk):
        snaps[k] = free
        cums[k] = served
        k += 1
        _score_loop_compiled(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
                             stage_overhead_s, finish_overhead_s, routing_code, admission, i_measured, lo,
                             min(lo + chunk, i_end), free, scratch, served)


def _catch_up(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
              stage_overhead_s, finish_overhead_s, routing_code, admission, i_measured, i_begin, i_end,
              chunk, snaps, free, scratch, served):
    """Continue from the true state at ``i_begin`` until it equals the speculative one at a chunk
    start; returns that chunk's index, or -1 after scoring everything up to ``i_end`` alone."""
    k = 0
    for lo in range(i_begin, i_end, chunk):
        same = True
        for g in range(free.shape[0]):
            for s in range(free.shape[1]):
                if free[g, s] != snaps[k, g, s]:
                    same = False
        if same:
            return k
        _score_loop_compiled(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
                             stage_overhead_s, finish_overhead_s, routing_code, admission, i_measured, lo,
                             min(lo + chunk, i_end), free, scratch, served)
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
