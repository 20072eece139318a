"""The controller's front half: shed, route, admit and enqueue one request (``ControllerCore.infer``).

Results are plain dicts with an ``outcome`` (``ok``, ``rejected``, ``failed``, ``not_found``) and,
unless ok, a ``reason``; the deployments in ``alpa_serve_like.controllers`` map them to HTTP.
Order of checks, cheapest first: too many requests pending (shed before any scheduling work), an
unknown model, then the scheduler's decision (routing among up groups and admission).
"""
from __future__ import annotations

import asyncio
import math

from alpa_serve_like.runtime.controller_state import PendingRequest, QueuedBatch
from alpa_serve_like.runtime.requests import InferRequest
from alpa_serve_like.scheduling import RejectReason


_REFRESH_OVERHEADS_S = 0.05
"""How often an arrival re-applies the (fading) overhead estimates when no batch has come back."""


class AdmissionMixin:
    """``infer`` and its rejections; part of ``ControllerCore``."""

    def overloaded(self) -> bool:
        """More requests pending than ``max_pending_requests``: shed new ones before parsing them."""
        return self.pending >= self.options.max_pending_requests

    async def infer(self, request: InferRequest, arrival_s: float | None = None) -> dict:
        """Serve one validated request that arrived at ``arrival_s`` (server wall clock, stamped as
        early as the handler can); returns the result dict (see the module docstring)."""
        self._ensure_loops()
        model = request.model
        if self.overloaded():
            return self._shed(model)
        now = self.clock()
        arrival_s = now if arrival_s is None else arrival_s
        if self.overheads is not None and arrival_s < now:  # stamped by the client: learn the way in
            self.overheads.observe_ingress(now - arrival_s)
        mid = self.model_index.get(model)
        if mid is None:
            return {"outcome": "not_found", "reason": "unknown_model",
                    "error": f"model {model!r} is not served here (known: {', '.join(self.model_names)})",
                    "known_models": list(self.model_names)}
        slo_s = request.slo_s if request.slo_s is not None else (self.options.default_slo_s or None)
        if self.overheads is not None and (now - self._overheads_applied_s > _REFRESH_OVERHEADS_S
                                           or (slo_s and slo_s != self.overheads.applied_slo_s)):
            # let estimates fade while nothing comes back (no lock-out); the margin is per SLO (a
            # request without one is never late: it keeps the last one's)
            self._apply_overheads(now, slo_s or None)
        deadline_s = arrival_s + slo_s if slo_s else math.inf
        decision = self.scheduler.route_and_admit(mid, now, deadline_s)
        if not decision.admitted:
            return self._reject(model, decision, arrival_s, slo_s)
        st = self.groups[decision.group]
        batch = st.batches.get(decision.batch_id)
        opened = batch is None
        if opened:
            batch = QueuedBatch(decision.batch_id, decision.group, st.generation, model, now)
            st.batches[decision.batch_id] = batch
            st.queue.append(batch)
        pending = PendingRequest(request, arrival_s, deadline_s, asyncio.get_running_loop().create_future())
        batch.requests.append(pending)
        self.pending += 1
        try:
            if opened:
                self._enqueued(decision.group)
            return await pending.future
        finally:
            self.pending -= 1

    def _shed(self, model: str) -> dict:
        self.stats.record(model, "rejected")
        self.metrics.on_request(model, "rejected", math.nan, False)
        return {"outcome": "rejected", "reason": "overloaded",
                "error": f"the server has {self.pending} requests pending (limit max_pending_requests="
                         f"{self.options.max_pending_requests}); retry later"}

    def _reject(self, model: str, rejection, arrival_s: float, slo_s) -> dict:
        self.stats.record(model, "rejected")
        self.metrics.on_request(model, "rejected", math.nan, False)
        reason, group = rejection.reason, rejection.group
        predicted_s = rejection.predicted_finish_s - arrival_s
        if reason is RejectReason.SLO:
            message = (f"rejected at arrival: predicted latency {predicted_s * 1e3:.1f} ms on group "
                       f"{group} misses the SLO of {slo_s * 1e3:.1f} ms")
        elif reason is RejectReason.DOOMED:
            message = (f"dropped: predicted latency {predicted_s * 1e3:.1f} ms on group {group} misses the "
                       f"SLO of {slo_s * 1e3:.1f} ms (admission is off; no compute was spent on it)")
        elif reason is RejectReason.GROUP_DOWN:
            errors = "; ".join(f"group {g}: {st.last_error}" for g, st in enumerate(self.groups)
                               if not self.scheduler.is_up(g))
            message = f"every group hosting {model!r} is down or recovering ({errors})"
        else:
            message = f"rejected at arrival: model {model!r} is not hosted by any group"
        return {"outcome": "rejected", "reason": reason.label, "error": message, "group": group,
                "predicted_latency_ms": None if math.isinf(predicted_s) else round(predicted_s * 1e3, 3)}
