"""Scheduler: route a request to a group, admit or reject it, and batch it (shared by simulator and runtime).

The caller passes "now" in; nothing here reads a clock. ``route_and_admit`` predicts, for every
group hosting the model, when the request would finish (``clocks.stage_times``), lets the routing
policy pick one, rejects if admission is on and that finish is after the deadline, and otherwise
commits the stage times. Batches: a request joins the group's tail batch when ``GroupClocks.can_join``
holds and the grown batch still finishes by every member's deadline and no later than the request
would alone; otherwise it starts a new batch behind the tail. ``complete_batch`` (when a batch's result is back) and ``observe_stage``
(measured stage times, for the runtime) update the state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from alpa_serve_like.scheduling.clocks import GroupClocks, stage_times
from alpa_serve_like.scheduling.correction import LatencyCorrection
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.scheduling.routing import Candidate, resolve_routing
from alpa_serve_like.scheduling.tables import LatencyTables


@dataclass(frozen=True)
class Decision:
    """An admitted request: where it runs, in which batch, and its predicted stage times."""

    group: int
    replica: int
    batch_id: int
    batch_size: int
    """Size of the batch right after this request was added."""
    joined: bool
    stage_start_s: tuple[float, ...]
    stage_finish_s: tuple[float, ...]

    admitted = True

    @property
    def finish_s(self) -> float:
        return self.stage_finish_s[-1]


@dataclass(frozen=True)
class Rejection:
    """A request turned away at arrival."""

    reason: RejectReason
    group: int = -1
    """The group routing chose (-1 when the model is hosted nowhere)."""
    predicted_finish_s: float = math.inf

    admitted = False


@dataclass
class _OpenBatch:
    group: int
    replica: int
    size: int
    stage_start_s: list[float]
    stage_finish_s: list[float]


@dataclass
class _Prediction:
    replica: int
    group: int
    joins: bool
    starts: list[float] = field(default_factory=list)
    finishes: list[float] = field(default_factory=list)


class Scheduler:
    """Routing, admission and batching state over one placement's groups."""

    def __init__(self, tables: LatencyTables, options: SchedulingOptions | None = None,
                 start_s: float = -math.inf, correction: LatencyCorrection | None = None):
        self.tables = tables
        self.options = options or SchedulingOptions()
        if self.options.max_batch_size > tables.max_batch_size:
            raise ValueError(
                f"latency tables cover batches up to {tables.max_batch_size}, options ask for "
                f"{self.options.max_batch_size}: build the tables with the same max_batch_size"
            )
        self._choose = resolve_routing(self.options.routing).choose
        self.groups = [GroupClocks.fresh(int(n), start_s) for n in tables.num_stages]
        self.correction = correction
        self._lat = tables.lat_s.tolist()  # Python floats: same values, faster scalar access
        self._next_batch = 0
        self._open: dict[int, _OpenBatch] = {}

    # ---- predictions ---------------------------------------------------------------------------
    def _lat_row(self, replica: int, batch_size: int, num_stages: int) -> list[float]:
        row = [self._lat[replica][s][batch_size - 1] for s in range(num_stages)]
        if self.correction is not None:
            row = [v * self.correction.factor(replica, s) for s, v in enumerate(row)]
        return row

    def _predict(self, replica: int, now_s: float) -> _Prediction:
        opts = self.options
        group = int(self.tables.replica_group[replica])
        clocks = self.groups[group]
        earliest = now_s + opts.dispatch_overhead_s
        lat = self._lat_row(replica, 1, clocks.num_stages)
        start0 = max(earliest, clocks.free_s[0])
        starts, finishes = stage_times(start0, clocks.free_s, lat, opts.per_stage_overhead_s)
        alone = _Prediction(replica, group, False, starts, finishes)
        if opts.max_batch_size > 1 and clocks.can_join(replica, earliest, opts.max_batch_size):
            lat = self._lat_row(replica, clocks.tail_size + 1, clocks.num_stages)
            starts, finishes = stage_times(clocks.tail_start_s, clocks.base_s, lat, opts.per_stage_overhead_s)
            # Join only if every member still meets its deadline and the newcomer is not worse off
            # than running alone behind the tail (a batch that is slower than two is no batch).
            if (finishes[-1] + opts.finish_overhead_s <= clocks.tail_min_deadline_s
                    and finishes[-1] <= alone.finishes[-1] + opts.batch_join_slack_s):
                return _Prediction(replica, group, True, starts, finishes)
        return alone

    def candidates(self, model_id: int, now_s: float, deadline_s: float = math.inf) -> list[Candidate]:
        """What each group hosting ``model_id`` would do with a request arriving now (no commit)."""
        return [self._candidate(self._predict(r, now_s), now_s, deadline_s)
                for r in self.tables.replicas_of(model_id)]

    def _candidate(self, p: _Prediction, now_s: float, deadline_s: float) -> Candidate:
        compute = 1.0 if self.tables.group_compute is None else float(self.tables.group_compute[p.group])
        clocks = self.groups[p.group]
        return Candidate(p.group, p.replica, p.finishes[-1], clocks.outstanding, p.joins,
                         p.starts[0], now_s, deadline_s, compute, clocks.free_s[-1])

    # ---- the decision --------------------------------------------------------------------------
    def route_and_admit(self, model_id: int, now_s: float, deadline_s: float) -> Decision | Rejection:
        """Route one request arriving at ``now_s``; on admission its stage times are committed."""
        replicas = self.tables.replicas_of(model_id)
        if len(replicas) == 0:
            return Rejection(RejectReason.UNPLACED)
        preds = [self._predict(r, now_s) for r in replicas]
        chosen = preds[self._choose([self._candidate(p, now_s, deadline_s) for p in preds])]
        if self.options.admission and chosen.finishes[-1] + self.options.finish_overhead_s > deadline_s:
            return Rejection(RejectReason.SLO, chosen.group, chosen.finishes[-1])
        return self._commit(chosen, deadline_s)

    def _commit(self, p: _Prediction, deadline_s: float) -> Decision:
        clocks = self.groups[p.group]
        if p.joins:
            batch_id = clocks.tail_batch
            batch = self._open[batch_id]
            old = self._lat_row(p.replica, clocks.tail_size, clocks.num_stages)
            new = self._lat_row(p.replica, clocks.tail_size + 1, clocks.num_stages)
            for s in range(clocks.num_stages):
                clocks.busy_s[s] += new[s] - old[s]
            clocks.tail_size += 1
            clocks.tail_min_deadline_s = min(clocks.tail_min_deadline_s, deadline_s)
            batch.size = clocks.tail_size
        else:
            batch_id = self._next_batch
            self._next_batch += 1
            lat = self._lat_row(p.replica, 1, clocks.num_stages)
            for s in range(clocks.num_stages):
                clocks.busy_s[s] += lat[s] + self.options.per_stage_overhead_s
            clocks.base_s = list(clocks.free_s)
            clocks.tail_replica, clocks.tail_batch, clocks.tail_size = p.replica, batch_id, 1
            clocks.tail_start_s = p.starts[0]
            clocks.tail_min_deadline_s = deadline_s
            clocks.tail_sealed = False
            batch = self._open[batch_id] = _OpenBatch(p.group, p.replica, 1, [], [])
        clocks.free_s = list(p.finishes)
        clocks.outstanding += 1
        batch.stage_start_s, batch.stage_finish_s = list(p.starts), list(p.finishes)
        return Decision(p.group, p.replica, batch_id, batch.size, p.joins, tuple(p.starts), tuple(p.finishes))

    # ---- feedback ------------------------------------------------------------------------------
    def batch_finish_s(self, batch_id: int) -> float | None:
        """Current predicted finish of an open batch; None once it completed (or never existed)."""
        batch = self._open.get(batch_id)
        return None if batch is None else batch.stage_finish_s[-1]

    def complete_batch(self, batch_id: int) -> None:
        """The batch's results are back: its requests no longer count as outstanding."""
        batch = self._open.pop(batch_id, None)
        if batch is None:
            raise KeyError(f"batch {batch_id} is not open (never admitted, or already completed)")
        self.groups[batch.group].outstanding -= batch.size

    def seal_batch(self, batch_id: int) -> None:
        """The batch was dispatched for real: later requests must not join it."""
        clocks = self.groups[self._open[batch_id].group] if batch_id in self._open else None
        if clocks is not None and clocks.tail_batch == batch_id:
            clocks.tail_sealed = True

    def observe_stage(self, batch_id: int, stage: int, actual_start_s: float, actual_finish_s: float) -> None:
        """Measured times of one stage of an open batch (runtime feedback).

        Updates the (replica, stage) latency scale when a ``LatencyCorrection`` is attached, and the
        stage clock: for the tail batch the clock becomes the measured finish (earlier or later);
        for an earlier batch that ran late, the clock and the pre-tail clock move later by the
        delay (never earlier: queued work behind it is not re-timed).
        """
        batch = self._open.get(batch_id)
        if batch is None:
            return
        clocks = self.groups[batch.group]
        if self.correction is not None:
            profiled = self._lat[batch.replica][stage][batch.size - 1]
            measured = actual_finish_s - actual_start_s - self.options.per_stage_overhead_s
            self.correction.update(batch.replica, stage, measured, profiled)
        delay = actual_finish_s - batch.stage_finish_s[stage]
        batch.stage_start_s[stage], batch.stage_finish_s[stage] = actual_start_s, actual_finish_s
        if clocks.tail_batch == batch_id:
            clocks.tail_sealed = True
            clocks.free_s[stage] = actual_finish_s
        elif delay > 0.0:
            clocks.free_s[stage] += delay
            clocks.base_s[stage] += delay
