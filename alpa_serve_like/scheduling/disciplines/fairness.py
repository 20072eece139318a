"""Paella's deficit counters: the credit each model with waiting work has built up.

At every dispatch, each model with waiting work gains ``1 / n_present`` and the dispatched model
spends 1; a model with no waiting work has no credit (it restarts from 0 when work returns). The
credits of present models therefore sum to 0 and a model that is never chosen gains 1/n a dispatch.
"""
from __future__ import annotations

from typing import Iterable


class DeficitCredits:
    """Credits per model, updated at each dispatch."""

    def __init__(self):
        self.credits: dict[str, float] = {}

    def present(self, models: Iterable[str]) -> dict[str, float]:
        """Forget the credit of models without waiting work; the credits of ``models`` (0 if new)."""
        models = set(models)
        self.credits = {m: self.credits.get(m, 0.0) for m in sorted(models)}
        return self.credits

    def on_dispatch(self, models_present: Iterable[str], dispatched: str) -> None:
        """Apply one dispatch of ``dispatched`` while ``models_present`` had waiting work."""
        credits = self.present(models_present)
        if dispatched not in credits:
            raise ValueError(f"model {dispatched!r} was dispatched but had no waiting work "
                             f"(present: {', '.join(credits)})")
        share = 1.0 / len(credits)
        for m in credits:
            credits[m] += share
        credits[dispatched] -= 1.0
