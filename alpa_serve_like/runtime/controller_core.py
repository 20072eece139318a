"""The controller's logic: route, admit, batch, dispatch, collect, and recover failed groups.

Ray-free on purpose: groups come from an injected factory (``MeshGroup`` in production, fakes in
unit tests), the clock is injected, and the exception types that mean "a stage actor died" are
passed in. Routing, admission and batch formation are ``alpa_serve_like.scheduling.Scheduler`` (the
same code the simulator runs); this module turns its decisions into real batches:

* an admitted request joins the batch the scheduler named (a new one, or the group's queued tail);
* each group's dispatcher submits queued batches in order. With batching on it waits until the
  previous batch has left stage 0, so a queued batch keeps growing while the pipeline is busy and
  the group never idles to wait for one (the scheduler's rule); it then seals the batch;
* when a batch is back, the measured stage times go to ``Scheduler.observe_stage`` (clocks and
  the EWMA latency correction) and every request gets its answer with a timing breakdown;
* when a stage actor dies (or a batch is stuck past ``batch_timeout_s``), every request queued or
  in flight on that group is answered at once with HTTP 503, the group leaves routing (its clocks
  are set to infinity), and it is recreated with a new generation and put back in service.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.scheduling import (GroupClocks, LatencyCorrection, Scheduler, SchedulingOptions,
                          StageLatencyCache, build_latency_tables)
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.runtime.requests import InferRequest, batch_tokens
from alpa_serve_like.runtime.stats import RuntimeStats

logger = logging.getLogger(__name__)

GroupFactory = Callable[[int, int], Any]
"""``(group index, generation) -> group backend`` with ``start()``, ``start_async()``,
``submit(model, tokens) -> Submission``, ``check_alive()`` (async) and ``shutdown()``."""


@dataclass(frozen=True)
class Submission:
    """The awaitables of one batch in flight (Ray ObjectRefs for mesh groups): stage 0's result
    (stage 0 is free once it resolves), the last stage's result (the answer), and every other
    actor's result (op > 1 ranks)."""

    first: Any
    last: Any
    others: tuple = ()


class NullMetrics:
    """Metrics sink that drops everything (unit tests, local mode)."""

    def on_request(self, model: str, outcome: str, latency_s: float, slo_met: bool) -> None: ...

    def on_batch(self, group: int, stage_compute_s) -> None: ...

    def on_group_state(self, group: int, up: bool) -> None: ...


@dataclass
class _Pending:
    request: InferRequest
    arrival_s: float
    deadline_s: float
    future: asyncio.Future


@dataclass
class _Batch:
    batch_id: int
    group: int
    generation: int
    model: str
    requests: list = field(default_factory=list)
    dispatch_s: float = math.nan
    done: bool = False


@dataclass
class _Group:
    backend: Any
    num_stages: int
    generation: int = 0
    up: bool = True
    restarts: int = 0
    queue: deque = field(default_factory=deque)
    batches: dict = field(default_factory=dict)
    wake: asyncio.Event | None = None
    last_first: Any = None
    last_error: str = ""


class ControllerCore:
    """Serves ``placement`` with groups from ``group_factory``; see the module docstring."""

    def __init__(self, placement: Placement, profiles: dict[str, ModelProfile], options: RuntimeOptions,
                 group_factory: GroupFactory, *, clock: Callable[[], float] = time.time,
                 failure_types: tuple[type, ...] = (), rng: np.random.Generator | None = None,
                 metrics=None):
        for g, group in enumerate(placement.groups):
            if not group.models:
                raise ValueError(f"placement group {g} hosts no model; drop it from the placement")
        self.placement = placement
        self.options = options
        self.model_names = placement.models
        self.model_index = {m: i for i, m in enumerate(self.model_names)}
        self.specs = {m: instance_spec(m) for m in self.model_names}
        cache = StageLatencyCache(profiles, options.max_batch_size)
        tables = build_latency_tables(placement, self.model_names, cache)
        correction = None
        if options.correction_alpha > 0:
            correction = LatencyCorrection(len(tables.replica_group), int(tables.num_stages.max()),
                                           alpha=options.correction_alpha)
        self.scheduler = Scheduler(tables, SchedulingOptions(
            routing=options.routing, admission=options.admission, max_batch_size=options.max_batch_size,
            dispatch_overhead_s=options.dispatch_overhead_s, per_stage_overhead_s=options.per_stage_overhead_s,
        ), correction=correction)
        self.factory = group_factory
        self.clock = clock
        self.failure_types = tuple(failure_types)
        self.rng = rng if rng is not None else np.random.default_rng(options.seed)
        self.metrics = metrics or NullMetrics()
        self.stats = RuntimeStats(self.model_names)
        self.groups: list[_Group] = []
        self._tasks: set[asyncio.Task] = set()
        self._loops_started = False

    # ---- life cycle ----------------------------------------------------------------------------
    def start(self) -> list[list[dict]]:
        """Start every group (blocking); returns each group's actor info."""
        infos = []
        try:
            for g, group in enumerate(self.placement.groups):
                backend = self.factory(g, 0)
                self.groups.append(_Group(backend, group.config.pp))
                infos.append(backend.start())
        except BaseException:
            self.shutdown()
            raise
        start_s = self.clock()
        for g, st in enumerate(self.groups):
            self.scheduler.groups[g] = GroupClocks.fresh(st.num_stages, start_s)
            self.metrics.on_group_state(g, True)
        return infos

    def _ensure_loops(self) -> None:
        """Start dispatcher and health tasks on the running event loop (first request)."""
        if self._loops_started:
            return
        self._loops_started = True
        for g, st in enumerate(self.groups):
            st.wake = asyncio.Event()
            self._spawn(self._dispatch_loop(g))
        if self.options.health_check_period_s > 0:
            self._spawn(self._health_loop())

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for st in self.groups:
            for batch in list(st.batches.values()):
                self._answer_batch_error(batch, 503, "shutdown", "the server is shutting down")
            st.backend.shutdown()

    # ---- requests ------------------------------------------------------------------------------
    async def infer(self, request: InferRequest, arrival_s: float | None = None) -> dict:
        """Serve one validated request; returns the response dict (``status`` is the HTTP code)."""
        self._ensure_loops()
        now = self.clock()
        arrival_s = now if arrival_s is None else arrival_s
        model = request.model
        mid = self.model_index.get(model)
        if mid is None:
            return {"status": 404, "error": f"model {model!r} is not served here (known: "
                                            f"{', '.join(self.model_names)})", "known_models": list(self.model_names)}
        slo_s = request.slo_s if request.slo_s is not None else (self.options.default_slo_s or None)
        deadline_s = arrival_s + slo_s if slo_s else math.inf
        decision = self.scheduler.route_and_admit(mid, now, deadline_s)
        down = decision.group >= 0 and not self.groups[decision.group].up
        if not decision.admitted and not down:
            return self._reject(model, decision.reason.label, decision.predicted_finish_s - arrival_s, slo_s,
                                decision.group)
        st = self.groups[decision.group]
        if down:
            if decision.admitted:
                self.scheduler.seal_batch(decision.batch_id)
                self.scheduler.complete_batch(decision.batch_id)
            return self._reject(model, "group_down", math.inf, slo_s, decision.group,
                                f"every group hosting {model!r} is down or recovering "
                                f"(group {decision.group}: {st.last_error})")
        batch = st.batches.get(decision.batch_id)
        if batch is None:
            batch = st.batches[decision.batch_id] = _Batch(decision.batch_id, decision.group, st.generation, model)
            st.queue.append(batch)
            st.wake.set()
        pending = _Pending(request, arrival_s, deadline_s, asyncio.get_running_loop().create_future())
        batch.requests.append(pending)
        return await pending.future

    def _reject(self, model, reason, predicted_latency_s, slo_s, group, message=None) -> dict:
        self.stats.record(model, "rejected")
        self.metrics.on_request(model, "rejected", math.nan, False)
        if message is None:
            if reason == "slo":
                message = (f"rejected at arrival: predicted latency {predicted_latency_s * 1e3:.1f} ms on group "
                           f"{group} misses the SLO of {slo_s * 1e3:.1f} ms")
            else:
                message = f"rejected at arrival: model {model!r} is not hosted by any group"
        return {"status": 503, "error": message, "reason": reason, "group": group,
                "predicted_latency_ms": None if math.isinf(predicted_latency_s) else round(predicted_latency_s * 1e3, 3)}

    # ---- dispatch ------------------------------------------------------------------------------
    async def _dispatch_loop(self, g: int) -> None:
        st = self.groups[g]
        while True:
            while not st.queue:
                st.wake.clear()
                await st.wake.wait()
            batch = st.queue[0]
            if self.options.max_batch_size > 1 and st.last_first is not None:
                first, st.last_first = st.last_first, None
                try:
                    await first  # stage 0 is free: the queued batch stops growing now
                except Exception:  # its own finish handler reports the error
                    pass
                continue  # the queue may have changed (group failure) while waiting
            st.queue.popleft()
            if batch.done or batch.generation != st.generation:
                continue
            self.scheduler.seal_batch(batch.batch_id)
            spec = self.specs[batch.model]
            tokens = batch_tokens([p.request for p in batch.requests], spec.vocab_size, self.rng)
            batch.dispatch_s = self.clock()
            try:
                submission = st.backend.submit(batch.model, tokens)
            except Exception as exc:  # a dead actor can refuse the submission itself
                self._group_failed(g, st.generation, f"submitting to group {g} failed: {exc}")
                continue
            st.last_first = submission.first
            self._spawn(self._finish(batch, submission))

    async def _finish(self, batch: _Batch, submission) -> None:
        g, generation = batch.group, batch.generation
        try:
            out = await asyncio.wait_for(_awaitable(submission.last), self.options.batch_timeout_s)
        except asyncio.TimeoutError:
            self._group_failed(g, generation, f"batch {batch.batch_id} on group {g} was not back within "
                                              f"{self.options.batch_timeout_s:g} s (stuck stage actor)")
            return
        except self.failure_types as exc:
            self._group_failed(g, generation, f"a stage actor of group {g} died: {_first_line(exc)}")
            return
        except Exception as exc:  # the model raised: answer this batch, keep the group
            self._drop_batch(batch)
            self._answer_batch_error(batch, 500, "stage_error", f"group {g} failed to run {batch.model!r}: "
                                                                f"{_first_line(exc)}")
            return
        if batch.done:
            return
        self._complete(batch, out)

    def _complete(self, batch: _Batch, out: dict) -> None:
        now = self.clock()
        timings = sorted((t for t in out["timings"] if t["rank"] == 0), key=lambda t: t["stage"])
        for t in timings:
            self.scheduler.observe_stage(batch.batch_id, t["stage"], t["start_wall_s"], t["end_wall_s"])
        self._drop_batch(batch)
        batch.done = True
        compute = [t["compute_s"] for t in timings]
        self.stats.record_batch(batch.group, len(batch.requests), compute)
        self.metrics.on_batch(batch.group, compute)
        summaries = out["summary"]
        stage_ms = [round(s * 1e3, 3) for s in compute]
        # Where time goes between the stages: dispatch -> stage 0 start, each stage-to-stage
        # handoff, and last stage end -> the controller seeing the result.
        starts, ends = [t["start_wall_s"] for t in timings], [t["end_wall_s"] for t in timings]
        hops_ms = [round((b - a) * 1e3, 3) for a, b in zip([batch.dispatch_s] + ends, starts + [now])]
        for i, p in enumerate(batch.requests):
            latency = now - p.arrival_s
            met = now <= p.deadline_s
            self.stats.record(batch.model, "ok", latency, met)
            self.metrics.on_request(batch.model, "ok", latency, met)
            if not p.future.done():
                p.future.set_result({
                    "status": 200, "model": batch.model, "output": summaries[i], "group": batch.group,
                    "batch_size": len(batch.requests), "slo_met": met,
                    "timing_ms": {
                        "total": round(latency * 1e3, 3),
                        "queue": round((batch.dispatch_s - p.arrival_s) * 1e3, 3),
                        "stages": stage_ms,
                        "hops": hops_ms,
                        "overhead": round((latency - (batch.dispatch_s - p.arrival_s) - sum(compute)) * 1e3, 3),
                    },
                })

    def _drop_batch(self, batch: _Batch) -> None:
        """Release ``batch`` from the group and the scheduler (once)."""
        st = self.groups[batch.group]
        if batch.done or st.batches.get(batch.batch_id) is not batch:
            return
        del st.batches[batch.batch_id]
        self.scheduler.seal_batch(batch.batch_id)
        self.scheduler.complete_batch(batch.batch_id)

    def _answer_batch_error(self, batch: _Batch, status: int, reason: str, message: str) -> None:
        batch.done = True
        for p in batch.requests:
            self.stats.record(batch.model, "failed")
            self.metrics.on_request(batch.model, "failed", math.nan, False)
            if not p.future.done():
                p.future.set_result({"status": status, "error": message, "reason": reason, "group": batch.group})

    # ---- failures ------------------------------------------------------------------------------
    def _group_failed(self, g: int, generation: int, message: str) -> None:
        """Answer everything on group ``g`` with 503, take it out of routing, and recreate it."""
        st = self.groups[g]
        if st.generation != generation or not st.up:
            return  # this incarnation was already handled
        logger.warning("alpa_serve_like: %s; recreating group %d", message, g)
        st.up, st.last_error = False, message
        self.metrics.on_group_state(g, False)
        for batch in list(st.batches.values()):
            self._drop_batch(batch)
            self._answer_batch_error(batch, 503, "group_failed", f"{message}; retry the request")
        st.queue.clear()
        st.last_first = None
        self.scheduler.groups[g] = GroupClocks.fresh(st.num_stages, math.inf)
        old = st.backend
        try:
            old.shutdown()  # kills surviving actors, so nothing stays stuck behind a dead one
        except Exception as exc:
            logger.warning("alpa_serve_like: shutting down group %d: %s", g, exc)
        if self.options.recover:
            self._spawn(self._recover(g))

    async def _recover(self, g: int) -> None:
        st = self.groups[g]
        delay_s = 0.5
        while True:
            backend = self.factory(g, st.generation + 1)
            try:
                await backend.start_async()
                break
            except Exception as exc:
                logger.warning("alpa_serve_like: recreating group %d failed (%s); retrying in %.1f s", g, exc, delay_s)
                st.last_error = f"recreating failed: {exc}"
                backend.shutdown()
                await asyncio.sleep(delay_s)
                delay_s = min(2 * delay_s, 10.0)
        st.backend = backend
        st.generation += 1
        st.restarts += 1
        self.scheduler.groups[g] = GroupClocks.fresh(st.num_stages, self.clock())
        st.up = True
        self.metrics.on_group_state(g, True)
        logger.warning("alpa_serve_like: group %d is back (generation %d)", g, st.generation)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.health_check_period_s)
            for g, st in enumerate(self.groups):
                if not st.up or st.batches:
                    continue  # a busy group's failures surface through its batches
                generation = st.generation
                try:
                    await asyncio.wait_for(st.backend.check_alive(), self.options.batch_timeout_s)
                except Exception as exc:
                    self._group_failed(g, generation, f"health check of group {g} failed: {_first_line(exc)}")

    # ---- introspection -------------------------------------------------------------------------
    def group_status(self) -> list[dict]:
        out, now = [], self.clock()
        for g, (st, group) in enumerate(zip(self.groups, self.placement.groups)):
            out.append({
                "group": g, "op": group.config.op, "pp": group.config.pp, "models": list(group.models),
                "up": st.up, "generation": st.generation, "restarts": st.restarts,
                "queued_batches": len(st.queue), "open_batches": len(st.batches),
                "predicted_backlog_ms": [round(max(0.0, f - now) * 1e3, 3) if math.isfinite(f) else None
                                         for f in self.scheduler.groups[g].free_s],
                "last_error": st.last_error,
            })
        return out

    def snapshot(self) -> dict:
        """``/v1/stats``: request stats, group states and the latency correction factors."""
        out = self.stats.snapshot()
        out["groups"] = self.group_status()
        corr = self.scheduler.correction
        if corr is not None:
            tables = self.scheduler.tables
            out["latency_correction"] = {
                f"{self.model_names[int(tables.replica_model[r])]}@group{int(tables.replica_group[r])}":
                    [round(float(x), 4) for x in corr.scale[r, : int(tables.num_stages[tables.replica_group[r]])]]
                for r in range(len(tables.replica_group))
            }
        return out


def _awaitable(obj):
    """Ray ObjectRefs and asyncio futures both work with ``asyncio.wait_for`` once wrapped.

    An ObjectRef becomes its asyncio future (``as_future``) rather than a coroutine: ``wait_for``
    takes a future as it is, while a coroutine costs it one more Task and event-loop turn per batch.
    """
    if asyncio.isfuture(obj) or asyncio.iscoroutine(obj):
        return obj
    as_future = getattr(obj, "as_future", None)
    return as_future() if as_future is not None else _await(obj)


async def _await(obj):
    return await obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
