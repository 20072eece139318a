"""The reference simulator: a readable discrete-event loop driving the shared ``Scheduler``.

Events are ``(time_s, priority, sequence, kind, payload)`` tuples on a heap, so ordering is decided
by tuple comparison and ties are deterministic: at equal times a batch completion (priority 0)
comes before an arrival (priority 1), and equal-priority events keep their insertion order. A
batch that grows after its completion was scheduled gets a new completion event; the old one is
recognised as stale (its time is no longer the batch's predicted finish) and skipped.
Output has the same form as the kernel's, so the two are compared array for array.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np

from alpa_serve_like.scheduling import LatencyTables, Scheduler, SchedulingOptions
from alpa_serve_like.simulator.kernel import SegmentArrays

_COMPLETION, _ARRIVAL = 0, 1


def simulate_segment_reference(tables: LatencyTables, arrival_s, model_id, deadline_s,
                               options: SchedulingOptions) -> SegmentArrays:
    """Simulate one placement over the request arrays, one event at a time."""
    n = len(arrival_s)
    scheduler = Scheduler(tables, options)
    group = np.full(n, -1, dtype=np.int32)
    reason = np.zeros(n, dtype=np.int8)
    batch = np.full(n, -1, dtype=np.int64)
    batch_start: list[float] = []
    batch_finish: list[float] = []

    seq = itertools.count()
    events: list[tuple] = [(float(arrival_s[i]), _ARRIVAL, next(seq), "arrival", i) for i in range(n)]
    heapq.heapify(events)
    while events:
        time_s, _, _, kind, payload = heapq.heappop(events)
        if kind == "completion":
            if scheduler.batch_finish_s(payload) == time_s:
                scheduler.complete_batch(payload)
            continue
        i = payload
        decision = scheduler.route_and_admit(int(model_id[i]), time_s, float(deadline_s[i]))
        if not decision.admitted:
            reason[i] = int(decision.reason)
            continue
        group[i], batch[i] = decision.group, decision.batch_id
        if decision.batch_id == len(batch_start):
            batch_start.append(decision.stage_start_s[0])
            batch_finish.append(decision.finish_s)
        else:
            batch_finish[decision.batch_id] = decision.finish_s
        heapq.heappush(events, (decision.finish_s, _COMPLETION, next(seq), "completion", decision.batch_id))

    busy = np.zeros((tables.num_groups, tables.lat_s.shape[1]))
    for g, clocks in enumerate(scheduler.groups):
        busy[g, : clocks.num_stages] = clocks.busy_s
    return SegmentArrays(group, reason, batch, np.array(batch_start, dtype=np.float64),
                         np.array(batch_finish, dtype=np.float64), busy)
