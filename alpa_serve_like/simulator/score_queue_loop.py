"""The scorer's loop for ``shortest_queue`` routing without batching.

Like ``score_kernel``'s loop it only counts SLO-meeting measured requests per model, with the
kernel's arithmetic (bit-identical decisions; the parity test checks this against the general
kernel). Routing needs each candidate group's outstanding requests: those admitted there whose
last stage finishes after ``now``. Without batching a group's requests finish in admission order
(each starts its last stage after the previous one left it), so each group's outstanding requests
are a FIFO list of request indices, popped from the head while the head has finished; the general
kernel keeps the same list per batch, and the reference completes a request before an arrival at
the same time, hence ``<= now``. The lists are the loop's state besides the clocks, so this loop is
not split over threads.
"""
from __future__ import annotations

from alpa_serve_like.simulator.kernel import jit_disabled_by_env


def _score_queue_loop(arrival, model_id, deadline, host_ptr, replica_group, num_stages, lat1, dispatch_s,
                      stage_overhead_s, finish_overhead_s, admission, i_measured, i_begin, i_end,
                      free, queued, head, tail, count, next_req, finish_of, served):
    """Route (fewest outstanding requests, lowest index on ties), admit and commit requests
    ``i_begin:i_end``; ``served[m]`` += 1 per SLO-meeting request ``i >= i_measured``.

    State: ``free[g, s]`` stage clocks; per group ``head``/``tail`` (request index, -1 when none)
    and ``count`` of outstanding requests; per request ``next_req`` and ``finish_of`` (last stage).
    Only groups with ``queued[g]`` (hosting a model that has several candidates) keep a queue: no
    other group's is ever read. Queues are popped lazily, when read; as ``now`` only grows, the
    count read is the same as if every completion had been popped at once.
    ``stage_overhead_s`` is None when there is none (as in ``score_kernel``).
    """
    for i in range(i_begin, i_end):
        m = model_id[i]
        lo = host_ptr[m]
        hi = host_ptr[m + 1]
        if lo == hi:
            continue
        now = arrival[i]
        earliest = now + dispatch_s
        r = lo
        if hi - lo > 1:
            best_q = 0
            for k in range(lo, hi):
                g = replica_group[k]
                h = head[g]
                while h >= 0 and finish_of[h] <= now:
                    count[g] -= 1
                    h = next_req[h]
                head[g] = h
                if k == lo or count[g] < best_q:
                    r = k
                    best_q = count[g]
        g = replica_group[r]
        fin = max(earliest, free[g, 0]) + lat1[r, 0]
        if stage_overhead_s is not None:
            fin = fin + stage_overhead_s
        for s in range(1, num_stages[g]):
            fin = max(fin, free[g, s]) + lat1[r, s]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
        done = fin + finish_overhead_s
        if admission and done > deadline[i]:
            continue
        fin = max(earliest, free[g, 0]) + lat1[r, 0]
        if stage_overhead_s is not None:
            fin = fin + stage_overhead_s
        free[g, 0] = fin
        for s in range(1, num_stages[g]):
            fin = max(fin, free[g, s]) + lat1[r, s]
            if stage_overhead_s is not None:
                fin = fin + stage_overhead_s
            free[g, s] = fin
        if queued[g]:
            finish_of[i] = fin
            next_req[i] = -1
            if head[g] < 0:
                head[g] = i
            else:
                next_req[tail[g]] = i
            tail[g] = i
            count[g] += 1
        if i >= i_measured and done <= deadline[i]:
            served[m] += 1


_compiled = None


def get_score_queue_loop(jit: bool = True):
    """The compiled loop (numba, cached on disk), or the plain Python function."""
    global _compiled
    if not jit or jit_disabled_by_env():
        return _score_queue_loop
    if _compiled is None:
        from alpa_serve_like.simulator.jit import njit_cached

        _compiled = njit_cached(_score_queue_loop)
    return _compiled
