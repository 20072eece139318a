"""DisciplineState: the dispatcher-side state a discipline reads, and the one call that uses it.

A dispatcher (a simulator or the runtime) holds one ``DisciplineState``; at each dispatch it calls
``select(waiting, now_s)``, which builds the ``DispatchView``, asks the discipline, and charges the
chosen model's fairness credit (or ``peek`` and, once the unit really goes, ``charge``). After a unit completes the dispatcher reports it with ``observe``.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from alpa_serve_like.scheduling.disciplines.estimates import RemainingWork
from alpa_serve_like.scheduling.disciplines.fairness import DeficitCredits
from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, resolve_discipline

PURE_SRPT_THRESHOLD = 1e6
"""Paella's U for 'no fairness' (credits never get near it at the paper's queue lengths)."""


class DisciplineState:
    """Estimates and credits of one dispatcher, and the discipline chosen by name."""

    def __init__(self, discipline: str = "fcfs", fairness_threshold: float = math.inf,
                 work: RemainingWork | None = None):
        """``work``: estimates shared with other dispatchers (the stages of one pipeline all need
        every stage's estimates to rank remaining work); None makes this state's own."""
        if not fairness_threshold >= 0:
            raise ValueError(f"fairness_threshold must be >= 0 (inf = none), got {fairness_threshold!r}")
        self.entry = resolve_discipline(discipline)
        self.fairness_threshold = float(fairness_threshold)
        self.work = work if work is not None else RemainingWork()
        self.credits = DeficitCredits()

    def view(self, waiting: Sequence[Waiting], now_s: float) -> DispatchView:
        credits = dict(self.credits.present(w.model for w in waiting))
        owed = min(credits, key=lambda m: (-credits[m], m)) if credits else None
        return DispatchView(
            now_s=now_s,
            remaining_s=tuple(self.work.remaining_s(w.model, w.next_unit) for w in waiting),
            credits=credits,
            fairness_threshold=self.fairness_threshold,
            owed_model=owed if owed is not None and credits[owed] >= self.fairness_threshold else None,
        )

    def order(self, waiting: Sequence[Waiting], now_s: float) -> list[int]:
        """Indices into ``waiting``, best first (nothing is charged)."""
        if not waiting:
            return []
        view = self.view(waiting, now_s)
        rank = self.entry.rank
        keys = [rank(w, view.remaining_s[i], view) for i, w in enumerate(waiting)]
        return sorted(range(len(waiting)), key=keys.__getitem__)

    def peek(self, waiting: Sequence[Waiting], now_s: float) -> int:
        """Index into ``waiting`` of the job the discipline would dispatch now (nothing is charged)."""
        if not waiting:
            raise ValueError("a discipline was asked to choose from an empty queue")
        view = self.view(waiting, now_s)
        rank = self.entry.rank
        return min(range(len(waiting)), key=lambda i: rank(waiting[i], view.remaining_s[i], view))

    def owed_model(self) -> str | None:
        """The model the fairness rule serves next given the current credits (None: no rule fires)."""
        c = self.credits.credits
        owed = min(c, key=lambda m: (-c[m], m)) if c else None
        return owed if owed is not None and c[owed] >= self.fairness_threshold else None

    def charge(self, models_waiting: Iterable[str], model: str) -> None:
        """Record a dispatch of ``model`` while ``models_waiting`` had waiting work (credits move)."""
        self.credits.on_dispatch(models_waiting, model)

    def select(self, waiting: Sequence[Waiting], now_s: float) -> int:
        """``peek`` and ``charge``: the index of the job dispatched now."""
        index = self.peek(waiting, now_s)
        self.charge((w.model for w in waiting), waiting[index].model)
        return index

    def observe(self, model: str, unit: int, observed_s: float) -> None:
        self.work.observe(model, unit, observed_s)
