"""DisciplineState: the dispatcher-side state a discipline reads, and the one call that uses it.

A dispatcher (a simulator or the runtime) holds one ``DisciplineState``; at each dispatch it calls
``select(waiting, now_s)``, which builds the ``DispatchView``, asks the discipline, and charges the
chosen model's fairness credit (or ``peek`` and, once the unit really goes, ``charge``). After a unit completes the dispatcher reports it with ``observe``.
"""
from __future__ import annotations

import math
from typing import Sequence

from alpa_serve_like.scheduling.disciplines.estimates import RemainingWork
from alpa_serve_like.scheduling.disciplines.fairness import DeficitCredits
from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, resolve_discipline

PURE_SRPT_THRESHOLD = 1e6
"""Paella's U for 'no fairness' (credits never get near it at the paper's queue lengths)."""


class DisciplineState:
    """Estimates and credits of one dispatcher, and the discipline chosen by name."""

    def __init__(self, discipline: str = "fcfs", fairness_threshold: float = math.inf):
        if not fairness_threshold >= 0:
            raise ValueError(f"fairness_threshold must be >= 0 (inf = none), got {fairness_threshold!r}")
        self.entry = resolve_discipline(discipline)
        self.fairness_threshold = float(fairness_threshold)
        self.work = RemainingWork()
        self.credits = DeficitCredits()

    def view(self, waiting: Sequence[Waiting], now_s: float) -> DispatchView:
        credits = self.credits.present(w.model for w in waiting)
        return DispatchView(
            now_s=now_s,
            remaining_s=tuple(self.work.remaining_s(w.model, w.next_unit) for w in waiting),
            credits=dict(credits),
            fairness_threshold=self.fairness_threshold,
        )

    def peek(self, waiting: Sequence[Waiting], now_s: float) -> int:
        """Index into ``waiting`` of the job the discipline would dispatch now (nothing is charged)."""
        return self.entry.choose(waiting, self.view(waiting, now_s))

    def charge(self, waiting: Sequence[Waiting], index: int) -> None:
        """Record that ``waiting[index]`` was dispatched (its model spends a fairness credit)."""
        self.credits.on_dispatch((w.model for w in waiting), waiting[index].model)

    def select(self, waiting: Sequence[Waiting], now_s: float) -> int:
        """``peek`` and ``charge``: the index of the job dispatched now."""
        index = self.peek(waiting, now_s)
        self.charge(waiting, index)
        return index

    def observe(self, model: str, unit: int, observed_s: float) -> None:
        self.work.observe(model, unit, observed_s)
