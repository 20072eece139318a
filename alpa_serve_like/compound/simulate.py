"""Discrete-event simulation of compound requests on a ``CompoundPlan``.

A request arriving at ``a`` starts its root tasks at ``a``; a task starts when all its parents
have finished and then issues ``fan_out`` invocations at once. Each invocation is routed and
admitted by the shared ``scheduling.Scheduler`` (the same code the single-model simulator and the
runtime use): every task is a "model", every MPS copy on every slice a one-stage group with the
option's latency. An invocation's deadline is the task's *latest finish*: ``a + slo_s`` minus the
largest sum of planned budgets along a path from its children to a sink, so slack on short
branches is not wasted (the planner assumes a request's fan-out invocations run side by side;
when they queue on one instance, this slack absorbs it). A rejected
invocation fails its request (nothing more of it runs); a request completes when every sink has
finished and meets its SLO only if that is by ``a + slo_s``.

Ours: JigsawServe's simulator is not public. Batching is off (the plan is sized for batch 1).
Events sit on a heap of ``(time, sequence, ...)`` tuples, so ties resolve in creation order.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from alpa_serve_like.compound.app_spec import CompoundApp, task_deadline_offsets_s
from alpa_serve_like.compound.optimizer import CompoundPlan
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.scheduler import Scheduler
from alpa_serve_like.scheduling.tables import LatencyTables


_TOLERANCE_S = 1e-9


@dataclass(frozen=True, eq=False)
class CompoundSimResult:
    """Per-request outcome: ``finish_s[i]`` is NaN for a request that was rejected somewhere."""

    arrival_s: np.ndarray
    finish_s: np.ndarray
    slo_s: float

    @property
    def num_requests(self) -> int:
        return len(self.arrival_s)

    @property
    def met(self) -> np.ndarray:
        return np.nan_to_num(self.finish_s, nan=np.inf) <= self.arrival_s + self.slo_s + _TOLERANCE_S

    @property
    def slo_violation_rate(self) -> float:
        """Share of requests that were rejected or finished after their SLO."""
        return float(1.0 - self.met.mean()) if self.num_requests else 0.0


def plan_tables(app: CompoundApp, plan: CompoundPlan) -> LatencyTables:
    """The plan as scheduler tables: one replica per MPS copy, tasks as models (in app order)."""
    per_task: list[list[float]] = [[] for _ in app.tasks]
    index = {t.name: i for i, t in enumerate(app.tasks)}
    for inst in plan.instances:
        per_task[index[inst.task]] += [inst.latency_s] * (inst.count * inst.mps)
    host_ptr = np.cumsum([0] + [len(lats) for lats in per_task]).astype(np.int64)
    lats = [lat for lats in per_task for lat in lats]
    models = [ti for ti, lats in enumerate(per_task) for _ in lats]
    return LatencyTables(
        model_names=app.task_names,
        num_stages=np.ones(len(lats), dtype=np.int64),
        host_ptr=host_ptr,
        replica_group=np.arange(len(lats), dtype=np.int64),
        replica_model=np.asarray(models, dtype=np.int64),
        lat_s=np.asarray(lats, dtype=np.float64).reshape(len(lats), 1, 1),
    )


def simulate_compound(app: CompoundApp, plan: CompoundPlan, arrival_s: np.ndarray,
                      options: SchedulingOptions = SchedulingOptions()) -> CompoundSimResult:
    """Run requests arriving at ``arrival_s`` (sorted seconds) through ``plan``."""
    if options.max_batch_size != 1:
        raise ValueError("compound simulation plans batch 1; use SchedulingOptions(max_batch_size=1)")
    arrival_s = np.asarray(arrival_s, dtype=np.float64)
    sched = Scheduler(plan_tables(app, plan), options)
    offsets = task_deadline_offsets_s(app, plan.budget_s_by_task)
    parents = [[app.task_names.index(p) for p in t.parents] for t in app.tasks]
    children = [[app.task_names.index(c) for c in app.children(t.name)] for t in app.tasks]
    sinks = [i for i, kids in enumerate(children) if not kids]
    finish = np.full(len(arrival_s), np.nan)
    failed = np.zeros(len(arrival_s), dtype=bool)
    # Per request: invocations still running per task, tasks finished, latest sink finish.
    pending: dict[int, list[int]] = {}
    done: dict[int, set[int]] = {}
    heap: list[tuple] = []
    seq = 0

    def start_task(req: int, task: int, now_s: float) -> None:
        nonlocal seq
        pending[req][task] = app.tasks[task].fan_out
        # A plan may fill the SLO exactly; the tolerance keeps float rounding from rejecting it.
        deadline = arrival_s[req] + offsets[task] + _TOLERANCE_S
        for _ in range(app.tasks[task].fan_out):
            decision = sched.route_and_admit(task, now_s, deadline)
            if not decision.admitted:
                failed[req] = True
                return
            heapq.heappush(heap, (decision.finish_s, seq, req, task, decision.batch_id))
            seq += 1

    for req, a in enumerate(arrival_s):
        heapq.heappush(heap, (float(a), seq, req, -1, -1))
        seq += 1
    while heap:
        now, _, req, task, batch_id = heapq.heappop(heap)
        if task < 0:  # arrival
            pending[req], done[req] = [0] * len(app.tasks), set()
            for t in range(len(app.tasks)):
                if not parents[t] and not failed[req]:
                    start_task(req, t, now)
            continue
        sched.complete_batch(batch_id)
        if failed[req]:
            continue
        pending[req][task] -= 1
        if pending[req][task]:
            continue
        done[req].add(task)
        for child in children[task]:
            if all(p in done[req] for p in parents[child]) and not failed[req]:
                start_task(req, child, now)
        if all(s in done[req] for s in sinks):
            finish[req] = now
            del pending[req], done[req]
    finish[failed] = np.nan
    return CompoundSimResult(arrival_s, finish, app.slo_s)


def poisson_workload(app: CompoundApp, rate_rps: float, duration_s: float,
                     rng: np.random.Generator) -> Workload:
    """Poisson arrivals of ``app``'s requests over ``[0, duration_s)``, as a one-model Workload."""
    if not rate_rps > 0 or not duration_s > 0:
        raise ValueError(f"rate_rps and duration_s must be > 0, got {rate_rps} and {duration_s}")
    gaps = rng.exponential(1.0 / rate_rps, size=int(rate_rps * duration_s * 1.5) + 16)
    arrival = np.cumsum(gaps)
    arrival = arrival[arrival < duration_s]
    return Workload(arrival, np.zeros(len(arrival), dtype=np.int32), np.full(len(arrival), app.slo_s),
                    (app.name,), meta={"name": f"poisson-{app.name}", "rate_rps": rate_rps, "span_s": duration_s})
