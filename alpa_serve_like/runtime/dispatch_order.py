"""The controller's side of queue disciplines: which queued batch a group dispatches next, and the
ticket each stage call carries so ordered stage actors can rank it (``stage_queue``).

Per group one ``scheduling.disciplines.DisciplineState`` (the simulator's code): its estimates
learn from every completed batch's per-stage compute times, and its credits are charged at each
controller dispatch. Under ``fcfs`` nothing here changes the old behaviour: the queue is served from
its head and no ticket is sent.

Where the order is decided: with batching off the controller submits every batch at once, so the
stage actors order them (stage 0 included). With batching on, the controller holds batches until
stage 0 is free and picks the next one here, at the moment it seals it; the later stages order
again in their actors. Admission at arrival predicts a FIFO position (the scheduler's
clocks) only under fcfs. Under srpt/edf nothing is rejected at arrival (later arrivals may
overtake, so the FIFO finish bounds nothing); with ``admission`` or ``drop_doomed_at_dispatch`` a
request is dropped at dispatch when it can no longer make its deadline, judged as in the
simulator's queue engine: dispatched now, waiting for nobody after (``finish_alone_s``). Routing
goes, as in the simulator's queue engine, to the group with the fewest outstanding requests
(``scheduling.routing.effective_routing``, applied by the scheduler), whatever ``routing`` says.
"""
from __future__ import annotations

import math
from collections import deque

from alpa_serve_like.runtime.stage_queue import ticket_for
from alpa_serve_like.scheduling.disciplines import DisciplineState, Waiting
from alpa_serve_like.scheduling.options import SchedulingOptions


class DispatchOrder:
    """Discipline state of each group of one controller."""

    def __init__(self, scheduling: SchedulingOptions):
        self.discipline = scheduling.discipline
        self.fairness_threshold = scheduling.fairness_threshold
        self.ordered = scheduling.discipline != "fcfs"
        self.drops_late = scheduling.drop_doomed_at_dispatch or (self.ordered and scheduling.admission)
        """Whether a dispatcher drops the members that can no longer make their deadline: under
        srpt/edf admission means exactly that (the scheduler judges nothing at arrival there)."""
        self._states: dict[int, DisciplineState] = {}

    def state(self, group: int) -> DisciplineState:
        found = self._states.get(group)
        if found is None:
            found = self._states[group] = DisciplineState(self.discipline, self.fairness_threshold)
        return found

    @staticmethod
    def waiting(batch, unit: int, num_units: int) -> Waiting:
        arrival = min((p.arrival_s for p in batch.requests), default=batch.created_s)
        deadline = min((p.deadline_s for p in batch.requests), default=math.inf)
        return Waiting(batch.batch_id, batch.model, arrival, unit, num_units, deadline)

    def take(self, group: int, queue: deque, num_stages: int, now_s: float):
        """Remove and return the batch to dispatch next: the head under fcfs, else the one the
        discipline ranks first (the credits are charged)."""
        if not self.ordered:
            return queue.popleft()
        batches = list(queue)
        index = self.state(group).select([self.waiting(b, 0, num_stages) for b in batches], now_s)
        del queue[index]
        return batches[index]

    def ticket(self, group: int, batch, num_stages: int) -> dict | None:
        """What the batch's stage calls carry (None under fcfs: plain actors need nothing)."""
        if not self.ordered:
            return None
        w = self.waiting(batch, 0, num_stages)
        return ticket_for(w.job, w.arrival_s, w.deadline_s,
                          self.state(group).work.estimates_s(batch.model, num_stages))

    @staticmethod
    def finish_alone_s(scheduler, batch_id: int, now_s: float, num_stages: int) -> float:
        """Predicted response time of a batch dispatched at ``now_s`` that waits for nobody on its
        way: the simulator's drop-at-dispatch rule for srpt/edf (the FIFO finish the scheduler
        committed at arrival assumes no overtaking, so it is no bound here)."""
        compute_s = scheduler.predicted_compute_s(batch_id) or 0.0
        return (now_s + scheduler.dispatch_overhead_s + compute_s + num_stages * scheduler.per_stage_overhead_s
                + scheduler.response_overhead_s)

    def observe(self, group: int, model: str, compute_s) -> None:
        """A batch of ``model`` came back with these per-stage compute times."""
        if self.ordered:
            for stage, seconds in enumerate(compute_s):
                self.state(group).observe(model, stage, float(seconds))
