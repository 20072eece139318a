"""Failed groups: answer their requests at once, mark them down in the scheduler, recreate them.

When a stage actor dies (or a batch is stuck past ``batch_timeout_s``, or an idle group fails its
health check), every request queued or in flight on that group is answered ``group_failed``, the
scheduler marks the group down (routing stops considering it), and the group is recreated with a
new generation, warmed up (``warmup``) and marked up again. Requests that arrive meanwhile go to the other groups hosting
their model, or are rejected ``group_down`` when there is none.
"""
from __future__ import annotations

import asyncio
import logging

from alpa_serve_like.runtime.controller_state import first_line

logger = logging.getLogger(__name__)


class RecoveryMixin:
    """Group failure, recreation and health checks; part of ``ControllerCore``."""

    def _group_failed(self, g: int, generation: int, message: str) -> None:
        """Answer everything on group ``g``, take it out of routing, and recreate it."""
        st = self.groups[g]
        if st.generation != generation or not st.up:
            return  # this incarnation was already handled
        logger.warning("alpa_serve_like: %s; recreating group %d", message, g)
        st.up, st.warm, st.last_error = False, False, message
        self.scheduler.mark_down(g)
        self.metrics.on_group_state(g, False)
        for batch in list(st.batches.values()):
            self._drop_batch(batch)
            self._answer_batch_error(batch, "group_failed", f"{message}; retry the request")
        st.queue.clear()
        st.last_first = None
        st.prev_ends_s = []
        try:
            st.backend.shutdown()  # kills surviving actors, so nothing stays stuck behind a dead one
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
                if self.options.warm_up:  # before it rejoins routing: no user request pays for it
                    await self._warm_group(g, backend, st.generation + 1)
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
        st.warm = True
        self.scheduler.mark_up(g, self.clock())
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
                    self._group_failed(g, generation, f"health check of group {g} failed: {first_line(exc)}")
