"""Stage-granular simulation under a queue discipline: the fast loop (numba), in arrays.

It runs exactly the rules of ``discipline_reference`` (read its docstring for them) with the
disciplines' keys written out by kernel code (``scheduling.disciplines``: 0 fcfs, 1 srpt, 2 edf);
the parity tests compare the two array for array. Queues are doubly linked lists over node ids
(request ``i`` is node ``i``, batch ``k`` is node ``n + k``); the next completion is found by a
scan over the (group, stage) servers, which also gives the reference's (group, stage) tie order.
Ranking is a lexicographic compare of ``(k1, k2, arrival, job)``: fcfs ``(0, 0)``, srpt
``(not owed, remaining estimate)``, edf ``(deadline, 0)``, the same order as the registry's tuples.
Remaining estimates are summed from the last stage down, as ``RemainingWork`` sums its suffixes,
so the floats agree bit for bit.
"""
from __future__ import annotations

import numpy as np

from alpa_serve_like.scheduling import LatencyTables, SchedulingOptions
from alpa_serve_like.scheduling.disciplines import resolve_discipline
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.simulator.discipline_reference import check_replicas_unique, drops_late
from alpa_serve_like.simulator.jit import njit_cached
from alpa_serve_like.simulator.kernel import SegmentArrays, jit_disabled_by_env

_REASON_UNPLACED = int(RejectReason.UNPLACED)
_REASON_DOOMED = int(RejectReason.DOOMED)


def _discipline_loop(arrival, model_id, deadline, host_ptr, replica_group, replica_model, num_stages, lat,
                     name_rank, code, threshold, dispatch_s, overhead, finish_oh, max_batch, drop,
                     out_group, out_reason, out_batch, b_start, b_finish, busy):
    """Simulate every request; fills the outputs and returns the number of batches made."""
    n = arrival.shape[0]
    n_groups = num_stages.shape[0]
    n_models = name_rank.shape[0]
    s_max = lat.shape[1]
    q_next = np.full(2 * n, -1, dtype=np.int64)
    q_prev = np.full(2 * n, -1, dtype=np.int64)
    q_head = np.full((n_groups, s_max), -1, dtype=np.int64)
    q_tail = np.full((n_groups, s_max), -1, dtype=np.int64)
    q_len = np.zeros((n_groups, s_max), dtype=np.int64)
    running = np.full((n_groups, s_max), -1, dtype=np.int64)
    run_finish = np.full((n_groups, s_max), np.inf)
    est = np.full((replica_group.shape[0], s_max), np.nan)
    credit = np.zeros((n_groups, s_max, n_models))
    present = np.zeros(n_models, dtype=np.bool_)
    outstanding = np.zeros(n_groups, dtype=np.int64)
    replica_of = np.full(n, -1, dtype=np.int64)
    visited = np.zeros(2 * n, dtype=np.int64)
    stamp = 0
    b_rep = np.empty(n, dtype=np.int64)
    b_head = np.empty(n, dtype=np.int64)
    b_size = np.empty(n, dtype=np.int64)
    b_mindl = np.empty(n)
    b_maxdl = np.empty(n)
    b_dur = np.empty(n)
    m_next = np.full(n, -1, dtype=np.int64)
    b_first = np.empty(n, dtype=np.int64)
    pend_g = np.empty(2, dtype=np.int64)
    pend_s = np.empty(2, dtype=np.int64)
    n_batches = 0
    for i in range(n):
        out_group[i] = -1
        out_reason[i] = 0
        out_batch[i] = -1
    ai = 0
    while True:
        # ---- next event: the earliest completion (lowest group, stage on ties), else an arrival
        t = np.inf
        cg = -1
        cs = -1
        for g in range(n_groups):
            for s in range(num_stages[g]):
                if running[g, s] >= 0 and run_finish[g, s] < t:
                    t = run_finish[g, s]
                    cg = g
                    cs = s
        ta = arrival[ai] + dispatch_s if ai < n else np.inf
        n_pend = 0
        if cg >= 0 and t <= ta:
            k = running[cg, cs]
            running[cg, cs] = -1
            run_finish[cg, cs] = np.inf
            r = b_rep[k]
            old = est[r, cs]
            est[r, cs] = b_dur[k] if old != old else (old + b_dur[k]) / 2.0
            if cs == num_stages[cg] - 1:
                b_finish[k] = t
                outstanding[cg] -= b_size[k]
            else:
                node = n + k
                s1 = cs + 1
                q_prev[node] = q_tail[cg, s1]
                q_next[node] = -1
                if q_tail[cg, s1] >= 0:
                    q_next[q_tail[cg, s1]] = node
                else:
                    q_head[cg, s1] = node
                q_tail[cg, s1] = node
                q_len[cg, s1] += 1
                pend_g[n_pend] = cg
                pend_s[n_pend] = s1
                n_pend += 1
            pend_g[n_pend] = cg
            pend_s[n_pend] = cs
            n_pend += 1
        elif ai < n:
            i = ai
            ai += 1
            t = ta
            m = model_id[i]
            lo = host_ptr[m]
            hi = host_ptr[m + 1]
            if lo == hi:
                out_reason[i] = _REASON_UNPLACED
                continue
            best = lo
            for r in range(lo + 1, hi):
                if outstanding[replica_group[r]] < outstanding[replica_group[best]]:
                    best = r
            g = replica_group[best]
            replica_of[i] = best
            out_group[i] = g
            outstanding[g] += 1
            q_prev[i] = q_tail[g, 0]
            q_next[i] = -1
            if q_tail[g, 0] >= 0:
                q_next[q_tail[g, 0]] = i
            else:
                q_head[g, 0] = i
            q_tail[g, 0] = i
            q_len[g, 0] += 1
            pend_g[0] = g
            pend_s[0] = 0
            n_pend = 1
        else:
            break
        # ---- let each affected idle stage serve its best waiting item
        for p in range(n_pend):
            g = pend_g[p]
            s = pend_s[p]
            if running[g, s] >= 0 or q_len[g, s] == 0:
                continue
            n_st = num_stages[g]
            need_view = True
            owed = -1
            size = 0
            head = -1
            r = -1
            earliest = np.inf
            latest = -np.inf
            while True:
                if need_view:
                    need_view = False
                    for m in range(n_models):
                        present[m] = False
                    node = q_head[g, s]
                    while node >= 0:
                        present[model_id[node] if node < n else model_id[b_head[node - n]]] = True
                        node = q_next[node]
                    owed = -1
                    for m in range(n_models):
                        if not present[m]:
                            credit[g, s, m] = 0.0
                        elif (owed < 0 or credit[g, s, m] > credit[g, s, owed]
                              or (credit[g, s, m] == credit[g, s, owed] and name_rank[m] < name_rank[owed])):
                            owed = m
                    if owed >= 0 and not (credit[g, s, owed] >= threshold):
                        owed = -1
                    stamp += 1
                # the unvisited waiting item ranked first
                best = -1
                bk1 = 0.0
                bk2 = 0.0
                barr = 0.0
                bjob = 0
                node = q_head[g, s]
                while node >= 0:
                    if visited[node] != stamp:
                        if node < n:
                            job = node
                            rr = replica_of[node]
                            unit = 0
                            dl = deadline[node]
                        else:
                            job = b_head[node - n]
                            rr = b_rep[node - n]
                            unit = s
                            dl = b_mindl[node - n]
                        k1 = 0.0
                        k2 = 0.0
                        if code == 1:
                            if owed >= 0 and model_id[job] != owed:
                                k1 = 1.0
                            for u in range(n_st - 1, unit - 1, -1):
                                e = est[rr, u]
                                k2 = k2 + (e if e == e else 0.0)
                        elif code == 2:
                            k1 = dl
                        arr = arrival[job]
                        if (best < 0 or k1 < bk1 or (k1 == bk1 and (k2 < bk2 or (k2 == bk2 and (
                                arr < barr or (arr == barr and job < bjob)))))):
                            best = node
                            bk1 = k1
                            bk2 = k2
                            barr = arr
                            bjob = job
                    node = q_next[node]
                if best < 0:
                    break
                visited[best] = stamp
                if size == 0:
                    if best < n:
                        rr = replica_of[best]
                        bsz = 1
                        late = deadline[best]
                    else:
                        rr = b_rep[best - n]
                        bsz = b_size[best - n]
                        late = b_maxdl[best - n]
                    if drop:
                        fin = t
                        for u in range(s, n_st):
                            fin = fin + (lat[rr, u, bsz - 1] + overhead)
                        if fin + finish_oh > late:
                            # unlink and drop
                            if q_prev[best] >= 0:
                                q_next[q_prev[best]] = q_next[best]
                            else:
                                q_head[g, s] = q_next[best]
                            if q_next[best] >= 0:
                                q_prev[q_next[best]] = q_prev[best]
                            else:
                                q_tail[g, s] = q_prev[best]
                            q_len[g, s] -= 1
                            if best < n:
                                out_group[best] = -1
                                out_batch[best] = -1
                                out_reason[best] = _REASON_DOOMED
                                outstanding[g] -= 1
                            else:
                                j = b_first[best - n]
                                while j >= 0:
                                    out_group[j] = -1
                                    out_batch[j] = -1
                                    out_reason[j] = _REASON_DOOMED
                                    outstanding[g] -= 1
                                    j = m_next[j]
                            if q_len[g, s] == 0:
                                break
                            need_view = True
                            continue
                    head = best
                    r = rr
                    size = 1
                    earliest = deadline[best] if best < n else b_mindl[best - n]
                    latest = late
                    hm = model_id[best] if best < n else model_id[b_head[best - n]]
                    n_present = 0
                    for m in range(n_models):
                        if present[m]:
                            n_present += 1
                    share = 1.0 / n_present
                    for m in range(n_models):
                        if present[m]:
                            credit[g, s, m] += share
                    credit[g, s, hm] -= 1.0
                    if s > 0 or max_batch == 1:
                        break
                    m_next[best] = -1
                    b_first[n_batches] = best
                    last_member = best
                else:
                    if replica_of[best] != r:
                        continue
                    with_dl = min(earliest, deadline[best])
                    fin = t
                    for u in range(0, n_st):
                        fin = fin + (lat[r, u, size] + overhead)
                    fin = fin + finish_oh
                    if fin == np.inf or (drop and fin > with_dl):
                        continue
                    m_next[last_member] = best
                    m_next[best] = -1
                    last_member = best
                    earliest = with_dl
                    latest = max(latest, deadline[best])
                    size += 1
                    if size == max_batch:
                        break
            if size == 0:
                continue
            if s == 0:
                k = n_batches
                n_batches += 1
                if max_batch == 1:
                    m_next[head] = -1
                    b_first[k] = head
                b_rep[k] = r
                b_head[k] = head
                b_size[k] = size
                b_mindl[k] = earliest
                b_maxdl[k] = latest
                b_start[k] = t
                b_finish[k] = np.nan
                j = b_first[k]
                while j >= 0:
                    if q_prev[j] >= 0:
                        q_next[q_prev[j]] = q_next[j]
                    else:
                        q_head[g, 0] = q_next[j]
                    if q_next[j] >= 0:
                        q_prev[q_next[j]] = q_prev[j]
                    else:
                        q_tail[g, 0] = q_prev[j]
                    q_len[g, 0] -= 1
                    out_batch[j] = k
                    j = m_next[j]
            else:
                k = head - n
                if q_prev[head] >= 0:
                    q_next[q_prev[head]] = q_next[head]
                else:
                    q_head[g, s] = q_next[head]
                if q_next[head] >= 0:
                    q_prev[q_next[head]] = q_prev[head]
                else:
                    q_tail[g, s] = q_prev[head]
                q_len[g, s] -= 1
            d = lat[r, s, b_size[k] - 1] + overhead
            b_dur[k] = d
            busy[g, s] += d
            running[g, s] = k
            run_finish[g, s] = t + d
    return n_batches


_compiled = None


def get_discipline_loop(jit: bool = True):
    """The compiled loop (numba, cached on disk), or the plain Python function."""
    global _compiled
    if not jit or jit_disabled_by_env():
        return _discipline_loop
    if _compiled is None:
        _compiled = njit_cached(_discipline_loop)
    return _compiled


def simulate_segment_discipline_kernel(tables: LatencyTables, arrival_s, model_id, deadline_s,
                                       options: SchedulingOptions, jit: bool = True) -> SegmentArrays:
    """``discipline_reference.simulate_segment_discipline_reference``, in one compiled loop."""
    entry = resolve_discipline(options.discipline)
    if entry.kernel_code is None:
        raise ValueError(f"queue discipline {options.discipline!r} has no kernel version; use backend='reference'")
    if options.max_batch_size > tables.max_batch_size:
        raise ValueError("latency tables were built for a smaller max_batch_size than the options ask for")
    check_replicas_unique(tables)
    n, g = len(arrival_s), tables.num_groups
    names = tables.model_names
    name_rank = np.empty(len(names), dtype=np.int64)
    name_rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    out_group = np.empty(n, dtype=np.int32)
    out_reason = np.empty(n, dtype=np.int8)
    out_batch = np.empty(n, dtype=np.int64)
    b_start = np.empty(n)
    b_finish = np.empty(n)
    busy = np.zeros((g, tables.lat_s.shape[1]))
    nb = int(get_discipline_loop(jit)(
        np.ascontiguousarray(arrival_s, dtype=np.float64), np.ascontiguousarray(model_id, dtype=np.int64),
        np.ascontiguousarray(deadline_s, dtype=np.float64), tables.host_ptr, tables.replica_group,
        tables.replica_model, tables.num_stages, tables.lat_s, name_rank, int(entry.kernel_code),
        float(options.fairness_threshold), float(options.dispatch_overhead_s), float(options.per_stage_overhead_s),
        float(options.finish_overhead_s), int(options.max_batch_size), drops_late(options),
        out_group, out_reason, out_batch, b_start, b_finish, busy,
    ))
    return SegmentArrays(out_group, out_reason, out_batch, b_start[:nb].copy(), b_finish[:nb].copy(), busy)
