"""Stage-granular simulation under a queue discipline: the readable reference (pure Python).

The FIFO simulator (``reference`` / ``kernel``) decides each request's whole timeline at arrival,
which is exact only because nobody can overtake. Under ``srpt`` or ``edf`` a later arrival can, so
this engine runs real queues: every stage of every group is one server with one queue, and each
time a stage falls idle it serves the waiting item the discipline ranks first
(``scheduling.disciplines.DisciplineState``, the same code the live server's stage actors use).
The rules, shared exactly with ``discipline_kernel``:

* **Events** are ``(time_s, kind, a, b)`` tuples on a heap: a stage completion ``(t, 0, g, s)``
  comes before an arrival ``(t, 1, i, 0)`` at the same time, completions in (group, stage) order,
  arrivals in request order. A request enters at ``arrival + dispatch_overhead_s``.
* **Routing**: to the group hosting the model with the fewest outstanding requests (routed and
  neither finished nor dropped), ties to the lower replica: ``scheduling.routing.DISCIPLINE_ROUTING``,
  the rule the runtime's scheduler also routes by under srpt/edf (``effective_routing``). A FIFO finish prediction, which
  ``earliest_finish`` and the other policies rank by, means nothing once later work can overtake,
  so ``routing`` is overridden here.
* **Stage 0** queues requests; the discipline picks the head, and with batching the batch is
  filled with further requests of the same replica in the discipline's order. The batch then
  moves through the later stages as one item (a request never joins when the larger batch size
  has no profile, i.e. an infinite latency) (its priority: the head request's arrival and id,
  the members' earliest deadline, its replica's remaining work).
* **Admission = drop at dispatch.** With ``admission`` or ``drop_doomed_at_dispatch`` on, an item
  about to be dispatched at time t is dropped (reason ``doomed``) when ``t`` plus its own remaining
  work (no further waiting) plus ``finish_overhead_s`` is after its deadline: a request at stage
  0, a whole batch at a later stage when even its latest deadline can no longer be met. A request
  joins a batch only if the batch then still meets every member's deadline. Nothing is rejected
  at arrival: whether a request will be late depends on arrivals that have not happened yet.
* **Estimates and fairness**: per group one ``RemainingWork`` (Paella's EWMA per model and stage,
  fed each completed stage's duration), per stage one ``DisciplineState`` with its own deficit
  credits, charged once per dispatch.

Durations are ``lat[r, s, b - 1] + per_stage_overhead_s``; a stage busy time is the sum of the
durations it ran, including batches dropped at a later stage.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from alpa_serve_like.scheduling import LatencyTables, SchedulingOptions
from alpa_serve_like.scheduling.disciplines import DisciplineState, RemainingWork, Waiting
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.scheduling.routing import DISCIPLINE_ROUTING, Candidate, resolve_routing
from alpa_serve_like.simulator.kernel import SegmentArrays

_COMPLETION, _ARRIVAL = 0, 1


def drops_late(options: SchedulingOptions) -> bool:
    """Whether an item that can no longer meet its deadline is dropped at dispatch."""
    return bool(options.admission or options.drop_doomed_at_dispatch)


def check_replicas_unique(tables: LatencyTables) -> None:
    """Estimates are kept per (group, model): a group must host each model at most once."""
    pairs = list(zip(tables.replica_group.tolist(), tables.replica_model.tolist()))
    if len(set(pairs)) != len(pairs):
        raise ValueError("a placement group hosts the same model twice; the discipline simulator keeps one "
                         "estimate per (group, model): merge the duplicate replicas")


def simulate_segment_discipline_reference(tables: LatencyTables, arrival_s, model_id, deadline_s,
                                          options: SchedulingOptions) -> SegmentArrays:
    """Simulate one placement over the request arrays with ``options.discipline`` at every stage."""
    check_replicas_unique(tables)
    n, n_groups = len(arrival_s), tables.num_groups
    lat, names = tables.lat_s, tables.model_names
    n_stages = [int(x) for x in tables.num_stages]
    overhead, finish_oh = options.per_stage_overhead_s, options.finish_overhead_s
    max_batch, drop = options.max_batch_size, drops_late(options)
    works = [RemainingWork() for _ in range(n_groups)]
    states = [[DisciplineState(options.discipline, options.fairness_threshold, works[g])
               for _ in range(n_stages[g])] for g in range(n_groups)]
    queues: list[list[list[int]]] = [[[] for _ in range(n_stages[g])] for g in range(n_groups)]
    running = [[-1] * n_stages[g] for g in range(n_groups)]
    outstanding = [0] * n_groups
    choose = resolve_routing(DISCIPLINE_ROUTING).choose  # also under fcfs: this engine's baseline rule

    group = np.full(n, -1, dtype=np.int32)
    reason = np.zeros(n, dtype=np.int8)
    batch = np.full(n, -1, dtype=np.int64)
    busy = np.zeros((n_groups, lat.shape[1]))
    replica_of = np.full(n, -1, dtype=np.int64)
    b_rep: list[int] = []
    b_members: list[list[int]] = []
    b_start: list[float] = []
    b_finish: list[float] = []
    b_duration: list[float] = []  # of the stage it runs now

    def remaining_finish(r: int, s: int, size: int, t: float) -> float:
        fin = t
        for u in range(s, n_stages[int(tables.replica_group[r])]):
            fin = fin + (lat[r, u, size - 1] + overhead)
        return fin + finish_oh

    def waiting_of(g: int, s: int, item: int) -> Waiting:
        if s == 0:
            return Waiting(item, names[int(model_id[item])], float(arrival_s[item]), 0, n_stages[g],
                           float(deadline_s[item]))
        head = b_members[item][0]
        return Waiting(head, names[int(model_id[head])], float(arrival_s[head]), s, n_stages[g],
                       min(float(deadline_s[i]) for i in b_members[item]))

    def drop_request(g: int, i: int) -> None:
        group[i], batch[i], reason[i] = -1, -1, int(RejectReason.DOOMED)
        outstanding[g] -= 1

    events: list[tuple] = [(float(arrival_s[i]) + options.dispatch_overhead_s, _ARRIVAL, i, 0) for i in range(n)]
    heapq.heapify(events)

    def try_dispatch(g: int, s: int, t: float) -> None:
        queue = queues[g][s]
        if running[g][s] >= 0 or not queue:
            return
        state = states[g][s]
        while True:
            waiting = [waiting_of(g, s, item) for item in queue]
            order = state.order(waiting, t)
            head = queue[order[0]]
            if s == 0:
                r, size, latest = int(replica_of[head]), 1, float(deadline_s[head])
            else:
                r, size = b_rep[head], len(b_members[head])
                latest = max(float(deadline_s[i]) for i in b_members[head])
            if drop and remaining_finish(r, s, size, t) > latest:
                queue.remove(head)
                for i in ([head] if s == 0 else b_members[head]):
                    drop_request(g, i)
                if not queue:
                    return
                continue
            break
        state.charge((w.model for w in waiting), waiting[order[0]].model)
        if s == 0:
            members, earliest = [head], float(deadline_s[head])
            for j in order[1:]:
                if len(members) == max_batch:
                    break
                i = queue[j]
                if replica_of[i] != r:
                    continue
                earliest_with = min(earliest, float(deadline_s[i]))
                fin = remaining_finish(r, 0, len(members) + 1, t)
                if fin == np.inf or (drop and fin > earliest_with):  # inf: batch size beyond the profile
                    continue
                members.append(i)
                earliest = earliest_with
            for i in members:
                queue.remove(i)
            k = len(b_rep)
            b_rep.append(r)
            b_members.append(members)
            b_start.append(t)
            b_finish.append(float("nan"))
            b_duration.append(0.0)
            for i in members:
                batch[i] = k
        else:
            k = head
            queue.remove(k)
        d = lat[r, s, len(b_members[k]) - 1] + overhead
        b_duration[k] = d
        busy[g, s] += d
        running[g][s] = k
        heapq.heappush(events, (t + d, _COMPLETION, g, s))

    while events:
        t, kind, a, b = heapq.heappop(events)
        if kind == _COMPLETION:
            g, s = a, b
            k = running[g][s]
            running[g][s] = -1
            r = b_rep[k]
            works[g].observe(names[int(tables.replica_model[r])], s, b_duration[k])
            if s == n_stages[g] - 1:
                b_finish[k] = t
                outstanding[g] -= len(b_members[k])
            else:
                queues[g][s + 1].append(k)
                try_dispatch(g, s + 1, t)
            try_dispatch(g, s, t)
            continue
        i = a
        m = int(model_id[i])
        lo, hi = int(tables.host_ptr[m]), int(tables.host_ptr[m + 1])
        if lo == hi:
            reason[i] = int(RejectReason.UNPLACED)
            continue
        best = lo + choose([Candidate(int(tables.replica_group[r]), r, math.nan,
                                      outstanding[int(tables.replica_group[r])], False) for r in range(lo, hi)])
        g = int(tables.replica_group[best])
        replica_of[i], group[i] = best, g
        outstanding[g] += 1
        queues[g][0].append(i)
        try_dispatch(g, 0, t)

    return SegmentArrays(group, reason, batch, np.array(b_start, dtype=np.float64),
                         np.array(b_finish, dtype=np.float64), busy)
