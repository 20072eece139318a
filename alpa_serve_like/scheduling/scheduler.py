"""Scheduler: route a request to a group, admit or reject it, and batch it (shared by simulator and runtime).

The caller passes "now" in; nothing here reads a clock. ``route_and_admit`` predicts, for every
group hosting the model, when the request would finish (``clocks.stage_times``), lets the routing
policy pick one, rejects if admission is on and that finish is after the deadline, and otherwise
commits the stage times. Batches: a request joins the group's tail batch when ``GroupClocks.can_join``
holds and the grown batch still finishes by every member's deadline and no later than the request
would alone; otherwise it starts a new batch behind the tail. ``complete_batch`` (when a batch's
result is back) and ``observe_stage`` (measured stage times, for the runtime) update the state.

The scheduler owns group availability: ``mark_down`` takes a group out of routing (its open batches
are forgotten, its clocks reset) and ``mark_up`` puts it back with fresh clocks; routing never
considers a down group, so no caller edits ``groups`` from outside. The runtime also feeds the
overheads it learns online (``set_overheads``) and asks, at dispatch, which members of a batch can
no longer make their deadline (``doomed_members``); the simulator never calls these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from alpa_serve_like.scheduling.clocks import GroupClocks, stage_times
from alpa_serve_like.scheduling.correction import LatencyCorrection
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.scheduling.routing import Candidate, effective_routing, resolve_routing
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
        # Under srpt/edf the FIFO predictions the policies rank by bound nothing: the simulator's
        # queue engine and this scheduler both route to the fewest outstanding requests.
        self._choose = resolve_routing(effective_routing(self.options.routing, self.options.discipline)).choose
        self.groups = [GroupClocks.fresh(int(n), start_s) for n in tables.num_stages]
        self.correction = correction
        self._lat = tables.lat_s.tolist()  # Python floats: same values, faster scalar access
        self._next_batch = 0
        self._open: dict[int, _OpenBatch] = {}
        self._up = [True] * len(self.groups)
        self.dispatch_overhead_s = self.options.dispatch_overhead_s
        self.per_stage_overhead_s = self.options.per_stage_overhead_s
        # The simulator's fixed response overhead (options.finish_overhead_s); the runtime learns it.
        self.response_overhead_s = self.options.finish_overhead_s
        """Predicted time from the last stage's finish to the response reaching the client; only
        admission adds it (the clocks model the devices)."""

    # ---- group availability --------------------------------------------------------------------
    def is_up(self, group: int) -> bool:
        return self._up[group]

    def mark_down(self, group: int) -> list[int]:
        """Take ``group`` out of routing; returns the ids of its open batches, which are forgotten
        (the caller answers their requests). Marking a down group down again is a no-op."""
        self._up[group] = False
        dropped = [b for b, batch in self._open.items() if batch.group == group]
        for b in dropped:
            del self._open[b]
        self.groups[group] = GroupClocks.fresh(self.groups[group].num_stages, math.inf)
        return dropped

    def mark_up(self, group: int, now_s: float) -> None:
        """Put ``group`` back in routing with idle clocks from ``now_s`` (a recreated group)."""
        self._up[group] = True
        self.groups[group] = GroupClocks.fresh(self.groups[group].num_stages, now_s)

    def set_overheads(self, dispatch_s: float, per_stage_s: float, response_s: float = 0.0) -> None:
        """Overheads used by later predictions (the runtime's online estimates; all >= 0)."""
        for name, value in (("dispatch_s", dispatch_s), ("per_stage_s", per_stage_s), ("response_s", response_s)):
            if not (0.0 <= value < math.inf):
                raise ValueError(f"overhead {name} must be a finite number of seconds >= 0, got {value!r}")
        self.dispatch_overhead_s, self.per_stage_overhead_s = dispatch_s, per_stage_s
        self.response_overhead_s = response_s

    # ---- predictions ---------------------------------------------------------------------------
    def _lat_row(self, replica: int, batch_size: int, num_stages: int) -> list[float]:
        row = [self._lat[replica][s][batch_size - 1] for s in range(num_stages)]
        if self.correction is not None:
            row = self.correction.scaled(replica, row)
        return row

    def _predict(self, replica: int, now_s: float) -> _Prediction:
        opts = self.options
        group = int(self.tables.replica_group[replica])
        clocks = self.groups[group]
        earliest = now_s + self.dispatch_overhead_s
        lat = self._lat_row(replica, 1, clocks.num_stages)
        start0 = max(earliest, clocks.free_s[0])
        starts, finishes = stage_times(start0, clocks.free_s, lat, self.per_stage_overhead_s)
        alone = _Prediction(replica, group, False, starts, finishes)
        if opts.max_batch_size > 1 and clocks.can_join(replica, earliest, opts.max_batch_size):
            lat = self._lat_row(replica, clocks.tail_size + 1, clocks.num_stages)
            starts, finishes = stage_times(clocks.tail_start_s, clocks.base_s, lat, self.per_stage_overhead_s)
            # Join only if every member still meets its deadline and the newcomer is not worse off
            # than running alone behind the tail (a batch that is slower than two is no batch).
            if (finishes[-1] + self.response_overhead_s <= clocks.tail_min_deadline_s
                    and finishes[-1] <= alone.finishes[-1] + opts.batch_join_slack_s):
                return _Prediction(replica, group, True, starts, finishes)
        return alone

    def candidates(self, model_id: int, now_s: float, deadline_s: float = math.inf) -> list[Candidate]:
        """What each up group hosting ``model_id`` would do with a request arriving now (no commit)."""
        if self.correction is not None:
            self.correction.set_now(now_s)
        return [self._candidate(self._predict(r, now_s), now_s, deadline_s) for r in self._up_replicas(model_id)]

    def _up_replicas(self, model_id: int) -> list[int]:
        return [int(r) for r in self.tables.replicas_of(model_id) if self._up[int(self.tables.replica_group[r])]]

    def _candidate(self, p: _Prediction, now_s: float, deadline_s: float) -> Candidate:
        compute = 1.0 if self.tables.group_compute is None else float(self.tables.group_compute[p.group])
        clocks = self.groups[p.group]
        return Candidate(p.group, p.replica, p.finishes[-1], clocks.outstanding, p.joins,
                         p.starts[0], now_s, deadline_s, compute, clocks.free_s[-1])

    # ---- the decision --------------------------------------------------------------------------
    def route_and_admit(self, model_id: int, now_s: float, deadline_s: float) -> Decision | Rejection:
        """Route one request arriving at ``now_s`` among the up groups hosting its model; on
        admission its stage times are committed.

        Rejections: ``unplaced`` (no group hosts the model), ``group_down`` (every one is down),
        ``slo`` (admission on, predicted finish plus response overhead after the deadline) and,
        with admission off and ``drop_doomed_at_dispatch`` on, ``doomed``: predictions are exact
        here, so the request would be dropped at dispatch without compute; it is not committed.
        Under a queue discipline other than fcfs later arrivals may overtake, so the FIFO finish
        predicted here bounds nothing: lateness is not judged at arrival (the runtime drops at
        dispatch, as the simulator's queue engine does).
        """
        hosts = self.tables.replicas_of(model_id)
        if len(hosts) == 0:
            return Rejection(RejectReason.UNPLACED)
        replicas = self._up_replicas(model_id)
        if not replicas:
            return Rejection(RejectReason.GROUP_DOWN, int(self.tables.replica_group[hosts[0]]))
        if self.correction is not None:  # its scales fade with the time since they were measured
            self.correction.set_now(now_s)
        preds = [self._predict(r, now_s) for r in replicas]
        chosen = preds[self._choose([self._candidate(p, now_s, deadline_s) for p in preds])]
        finish_s = chosen.finishes[-1] + self.response_overhead_s
        if finish_s > deadline_s and self.options.discipline == "fcfs":
            if self.options.admission:
                return Rejection(RejectReason.SLO, chosen.group, finish_s)
            if self.options.drop_doomed_at_dispatch:
                return Rejection(RejectReason.DOOMED, chosen.group, finish_s)
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
                clocks.busy_s[s] += lat[s] + self.per_stage_overhead_s
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

    def predicted_compute_s(self, batch_id: int) -> float | None:
        """Summed stage latency an open batch is predicted to compute (corrected, no overheads);
        None once it completed. The runtime compares it with the measured compute."""
        batch = self._open.get(batch_id)
        if batch is None:
            return None
        return sum(self._lat_row(batch.replica, batch.size, self.groups[batch.group].num_stages))

    def complete_batch(self, batch_id: int) -> None:
        """The batch's results are back: its requests no longer count as outstanding."""
        batch = self._open.pop(batch_id, None)
        if batch is None:
            raise KeyError(f"batch {batch_id} is not open (never admitted, completed, or its group "
                           f"was marked down)")
        self.groups[batch.group].outstanding -= batch.size

    def finish_if_started_s(self, batch_id: int, now_s: float) -> float:
        """Predicted response time of an open batch dispatched at ``now_s``: its committed finish,
        later by however much its stage-0 start slipped past the prediction, plus the response
        overhead (used at dispatch to find doomed members)."""
        batch = self._open[batch_id]
        slip = max(0.0, now_s + self.dispatch_overhead_s - batch.stage_start_s[0])
        return batch.stage_finish_s[-1] + slip + self.response_overhead_s

    def shrink_batch(self, batch_id: int, removed: int) -> None:
        """``removed`` members of an open batch were dropped before dispatch: they stop counting as
        outstanding. A batch left empty is forgotten, and if it was its group's queued tail the
        stage clocks go back to where they were before it (its compute is never spent)."""
        batch = self._open[batch_id]
        if not 0 < removed <= batch.size:
            raise ValueError(f"cannot drop {removed} of the {batch.size} requests of batch {batch_id}")
        clocks = self.groups[batch.group]
        clocks.outstanding -= removed
        batch.size -= removed
        if clocks.tail_batch == batch_id:
            clocks.tail_size = batch.size
        if batch.size == 0:
            del self._open[batch_id]
            if clocks.tail_batch == batch_id:
                clocks.free_s = list(clocks.base_s)
                clocks.tail_batch, clocks.tail_replica, clocks.tail_sealed = -1, -1, True

    def seal_batch(self, batch_id: int) -> None:
        """The batch was dispatched for real: later requests must not join it."""
        clocks = self.groups[self._open[batch_id].group] if batch_id in self._open else None
        if clocks is not None and clocks.tail_batch == batch_id:
            clocks.tail_sealed = True

    def observe_stage(self, batch_id: int, stage: int, actual_start_s: float, actual_finish_s: float) -> None:
        """Measured times of one stage of an open batch (runtime feedback).

        Updates the (replica, stage) latency scale when a ``LatencyCorrection`` is attached (measured
        at the stage's finish: the scale fades from then while no later measurement comes), and the
        stage clock: for the tail batch the clock becomes the measured finish (earlier or later);
        for an earlier batch that ran late, the clock and the pre-tail clock move later by the
        delay (never earlier: queued work behind it is not re-timed).
        """
        batch = self._open.get(batch_id)
        if batch is None:
            return
        clocks = self.groups[batch.group]
        # Measured times are the stage's own compute; its predicted finish also covers the hop after
        # it (``per_stage_overhead_s``), so the clock compares like with like.
        if self.correction is not None:
            profiled = self._lat[batch.replica][stage][batch.size - 1]
            self.correction.update(batch.replica, stage, actual_finish_s - actual_start_s, profiled, actual_finish_s)
        actual_finish_s += self.per_stage_overhead_s
        delay = actual_finish_s - batch.stage_finish_s[stage]
        batch.stage_start_s[stage], batch.stage_finish_s[stage] = actual_start_s, actual_finish_s
        if clocks.tail_batch == batch_id:
            clocks.tail_sealed = True
            clocks.free_s[stage] = actual_finish_s
        elif delay > 0.0:
            clocks.free_s[stage] += delay
            clocks.base_s[stage] += delay
