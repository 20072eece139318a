"""Warm-up: one batch of one request per model through each group before users depend on it.

A stage actor's first call of a model pays one-off costs (allocator growth, lazy kernel set-up:
835 ms for the first gpt-tiny request in issue 11, against tens of ms after). The controller runs
these batches itself right after the groups start, and again on each recreated group before it
rejoins routing; ``/health`` says ``warming_up`` (HTTP 503) until every group has served them, so
a load balancer that waits for a healthy answer never sends a user request into a cold group.
"""
from __future__ import annotations

import asyncio
import logging

import numpy as np

from alpa_serve_like.runtime.controller_state import awaitable, first_line

logger = logging.getLogger(__name__)


class WarmUpMixin:
    """``begin_warm_up``, ``warmed_up`` and per-group warm-up; part of ``ControllerCore``."""

    def begin_warm_up(self) -> None:
        """Start warming every group on the running event loop (once; later calls do nothing)."""
        if self.options.warm_up and self._warm_up_task is None:
            self._warm_up_task = self._spawn(self._warm_all())

    @property
    def warmed_up(self) -> bool:
        """Every group has served its warm-up batches at least once (the initial warm-up is over),
        or warm-up is off."""
        if not self.options.warm_up:
            return True
        return self._warm_up_task is not None and self._warm_up_task.done()

    async def _warm_all(self) -> None:
        await asyncio.gather(*(self._warm_group(g, st.backend, st.generation)
                               for g, st in enumerate(self.groups)))

    async def _warm_group(self, g: int, backend, generation: int) -> None:
        """One batch of one full-length request of each model of group ``g``, in turn. A failure of
        the serving backend is the group's failure (recovery recreates and re-warms it); a failure of
        a backend being recreated (not installed yet) raises, so its recreation is retried."""
        try:
            for model in self.placement.groups[g].models:
                spec = self.specs[model]
                tokens = np.ones((1, spec.seq_len), dtype=np.int64)
                submission = backend.submit(model, tokens)
                await asyncio.wait_for(awaitable(submission.last), self.options.batch_timeout_s)
        except Exception as exc:
            if backend is not self.groups[g].backend:
                raise
            self._group_failed(g, generation, f"warm-up of group {g} failed: {first_line(exc)}")
            return
        if backend is self.groups[g].backend:
            self.groups[g].warm = True
        logger.info("alpa_serve_like: group %d (generation %d) is warm", g, generation)
