"""The controller's back half: each group's dispatcher, doomed-request drops, and batch completion.

* Each group's dispatcher submits queued batches in order. With batching on it waits until the
  previous batch has left stage 0 (it awaits stage 0's small timing record, never activations), so
  a queued batch keeps growing while the pipeline is busy and the group never idles to wait for
  one (the scheduler's rule); it then seals the batch. Without batching, a request that opens a
  batch in front of an idle dispatcher submits it itself (``_enqueued``: the same step, one
  event-loop turn sooner).
* At dispatch, with ``drop_doomed_at_dispatch``, members that can no longer meet their deadline
  (the batch's predicted finish from now, overheads included, is past it) are answered ``doomed``
  and leave the batch before any compute is spent on them; an emptied batch is not submitted.
* Which queued batch goes next, and what its stage calls carry for ordered stage actors, is
  ``dispatch_order.DispatchOrder``'s (the queue's head under fcfs).
* When a batch is back, its measured stage times go to ``Scheduler.observe_stage`` (clocks and the
  EWMA latency correction), its timeline to the overhead estimator (whose estimates the scheduler
  then predicts with), and every request gets its answer with a timing breakdown.
"""
from __future__ import annotations

import asyncio
import math

from alpa_serve_like.runtime.controller_state import QueuedBatch, await_within, awaitable, first_line
from alpa_serve_like.runtime.requests import batch_tokens


class DispatchMixin:
    """Dispatch loops and batch completion; part of ``ControllerCore``."""

    async def _dispatch_loop(self, g: int) -> None:
        st = self.groups[g]
        batching = self.options.scheduling.max_batch_size > 1
        while True:
            while not st.queue:
                st.wake.clear()
                st.parked = True
                try:
                    await st.wake.wait()
                finally:
                    st.parked = False
            if batching and st.last_first is not None:
                first, st.last_first = st.last_first, None
                try:
                    await awaitable(first)  # stage 0 is free: the queued batch stops growing now
                except Exception:  # its own finish handler reports the error
                    pass
                continue  # the queue may have changed (group failure) while waiting
            self._dispatch_next(g)

    def _enqueued(self, g: int) -> None:
        """A new batch is in group ``g``'s queue (its request already in it). Without batching, a
        lone batch in front of a parked dispatcher is dispatched here and now: the dispatcher would
        take just this batch on its next turn anyway, and the turn costs an event-loop round on the
        hot path of every lone request. Else the dispatcher is woken."""
        st = self.groups[g]
        if st.parked and len(st.queue) == 1 and self.options.scheduling.max_batch_size == 1:
            self._dispatch_next(g)
        else:
            st.wake.set()

    def _dispatch_next(self, g: int) -> None:
        """Take the batch to run next from group ``g``'s queue and submit it (or drop it)."""
        st = self.groups[g]
        # Stale batches (answered, or of a failed generation) leave before the discipline ranks
        # the queue, so they are neither chosen nor charged fairness credit.
        live = [b for b in st.queue if not b.done and b.generation == st.generation]
        if len(live) < len(st.queue):
            st.queue.clear()
            st.queue.extend(live)
        if not st.queue:
            return
        batch = self.order.take(g, st.queue, st.num_stages, self.clock())  # the head under fcfs
        if self.order.drops_late and not self._drop_doomed(batch):
            return
        self.scheduler.seal_batch(batch.batch_id)
        spec = self.specs[batch.model]
        tokens = batch_tokens([p.request for p in batch.requests], spec.vocab_size, self.rng)
        batch.dispatch_s = self.clock()
        try:
            ticket = self.order.ticket(g, batch, st.num_stages)
            submission = (st.backend.submit(batch.model, tokens) if ticket is None
                          else st.backend.submit(batch.model, tokens, ticket=ticket))
        except Exception as exc:  # a dead actor can refuse the submission itself
            self._group_failed(g, st.generation, f"submitting to group {g} failed: {exc}")
            return
        st.last_first = submission.first
        self._spawn(self._finish(batch, submission))

    def _drop_doomed(self, batch: QueuedBatch) -> bool:
        """Answer the members of ``batch`` that would finish after their deadline; returns whether
        any member is left to run."""
        if self.order.ordered:  # srpt/edf: the FIFO finish predicted at arrival is no bound
            finish_s = self.order.finish_alone_s(self.scheduler, batch.batch_id, self.clock(),
                                                 self.groups[batch.group].num_stages)
        else:
            finish_s = self.scheduler.finish_if_started_s(batch.batch_id, self.clock())
        doomed = [p for p in batch.requests if p.deadline_s < finish_s]
        if not doomed:
            return True
        self.scheduler.shrink_batch(batch.batch_id, len(doomed))
        batch.requests = [p for p in batch.requests if p.deadline_s >= finish_s]
        self.dropped_at_dispatch += len(doomed)
        for p in doomed:
            self.stats.record(batch.model, "rejected")
            self.metrics.on_request(batch.model, "rejected", math.nan, False)
            if not p.future.done():
                p.future.set_result({
                    "outcome": "rejected", "reason": "doomed", "group": batch.group,
                    "error": f"dropped before dispatch: predicted finish {(finish_s - p.arrival_s) * 1e3:.1f} ms "
                             f"after arrival misses the deadline ({(p.deadline_s - p.arrival_s) * 1e3:.1f} ms)",
                })
        if batch.requests:
            return True
        batch.done = True
        del self.groups[batch.group].batches[batch.batch_id]
        return False

    async def _finish(self, batch: QueuedBatch, submission) -> None:
        g, generation = batch.group, batch.generation
        timeout_s = self.options.batch_timeout_s
        try:
            out = await await_within(awaitable(submission.last), timeout_s)
        except asyncio.TimeoutError:
            self._group_failed(g, generation, f"batch {batch.batch_id} on group {g} was not back within "
                                              f"{timeout_s:g} s (stuck stage actor)")
            return
        except self.failure_types as exc:
            self._group_failed(g, generation, f"a stage actor of group {g} died: {first_line(exc)}")
            return
        except Exception as exc:  # the model raised: answer this batch, keep the group
            self._drop_batch(batch)
            self._answer_batch_error(batch, "stage_error", f"group {g} failed to run {batch.model!r}: "
                                                           f"{first_line(exc)}")
            return
        if batch.done:
            return
        self._complete(batch, out)

    def _complete(self, batch: QueuedBatch, out: dict) -> None:
        now = self.clock()
        st = self.groups[batch.group]
        timings = sorted((t for t in out["timings"] if t["rank"] == 0), key=lambda t: t["stage"])
        starts, ends = [t["start_wall_s"] for t in timings], [t["end_wall_s"] for t in timings]
        if self.overheads is not None:
            prev = st.prev_ends_s or [-math.inf] * len(timings)
            self.overheads.observe(batch.created_s, starts, ends, prev, now)
            predicted = self.scheduler.predicted_compute_s(batch.batch_id)  # before observe_stage corrects it
            if predicted is not None:
                self.overheads.observe_compute(sum(ends) - sum(starts), predicted)
            finish_s = self.scheduler.batch_finish_s(batch.batch_id)  # as committed, also before observe_stage
            if finish_s is not None and batch.requests:
                self.overheads.observe_residual(now, now - finish_s, len(batch.requests),
                                                finish_s - max(p.arrival_s for p in batch.requests))
            self._apply_overheads(now)
        st.prev_ends_s = ends
        for t in timings:
            self.scheduler.observe_stage(batch.batch_id, t["stage"], t["start_wall_s"], t["end_wall_s"])
        self._drop_batch(batch)
        batch.done = True
        compute = [t["compute_s"] for t in timings]
        self.order.observe(batch.group, batch.model, compute)
        self.stats.record_batch(batch.group, len(batch.requests), compute)
        self.metrics.on_batch(batch.group, compute)
        summaries = out["summary"]
        stage_ms = [round(s * 1e3, 3) for s in compute]
        # Where time goes between the stages: dispatch -> stage 0 start, each stage-to-stage
        # handoff, and last stage end -> the controller seeing the result.
        hops_ms = [round((b - a) * 1e3, 3) for a, b in zip([batch.dispatch_s] + ends, starts + [now])]
        for i, p in enumerate(batch.requests):
            latency = now - p.arrival_s
            met = now <= p.deadline_s
            self.stats.record(batch.model, "ok", latency, met)
            self.metrics.on_request(batch.model, "ok", latency, met)
            if not p.future.done():
                p.future.set_result({
                    "outcome": "ok", "model": batch.model, "output": summaries[i], "group": batch.group,
                    "batch_size": len(batch.requests), "slo_met": met,
                    "timing_ms": {
                        "total": round(latency * 1e3, 3),
                        "queue": round((batch.dispatch_s - p.arrival_s) * 1e3, 3),
                        "stages": stage_ms,
                        "hops": hops_ms,
                        "overhead": round((latency - (batch.dispatch_s - p.arrival_s) - sum(compute)) * 1e3, 3),
                    },
                })

    def _apply_overheads(self, now_s: float, slo_s: float | None = None) -> None:
        """Predict with the learned overheads (faded by idle time), never below the configured ones
        (``OverheadEstimator.scheduler_overheads``: the residual quantile covers the noise), with the
        margin for requests of SLO ``slo_s`` (None: the SLO of the last application)."""
        if slo_s is None:
            slo_s = self.overheads.applied_slo_s
        self.scheduler.set_overheads(*self.overheads.scheduler_overheads(now_s, self.options.scheduling, slo_s))
        self._overheads_applied_s = now_s

    def _drop_batch(self, batch: QueuedBatch) -> None:
        """Release ``batch`` from the group and the scheduler (once)."""
        st = self.groups[batch.group]
        if batch.done or st.batches.get(batch.batch_id) is not batch:
            return
        del st.batches[batch.batch_id]
        if self.scheduler.batch_finish_s(batch.batch_id) is not None:  # gone if the group went down
            self.scheduler.seal_batch(batch.batch_id)
            self.scheduler.complete_batch(batch.batch_id)

    def _answer_batch_error(self, batch: QueuedBatch, reason: str, message: str) -> None:
        batch.done = True
        for p in batch.requests:
            self.stats.record(batch.model, "failed")
            self.metrics.on_request(batch.model, "failed", math.nan, False)
            if not p.future.done():
                p.future.set_result({"outcome": "failed", "reason": reason, "error": message, "group": batch.group})
