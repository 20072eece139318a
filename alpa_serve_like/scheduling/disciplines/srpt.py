"""srpt: shortest remaining processing time, with Paella's deficit-counter fairness threshold.

Paella (Ng et al., SOSP'23, section 4): the job with the least estimated remaining work goes
next, re-decided at every unit boundary. Fairness: if the largest deficit credit among models with
waiting work is >= U, that model's shortest job goes instead of the global SRPT head (U = inf or
1e6 is pure SRPT; small U approaches round robin over models).
"""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, first_min, register_discipline


def owed_model(view: DispatchView) -> str | None:
    """The model with the largest credit if that credit is >= U (ties: the smaller name), else None."""
    if not view.credits:
        return None
    model = min(view.credits, key=lambda m: (-view.credits[m], m))
    return model if view.credits[model] >= view.fairness_threshold else None


@register_discipline("srpt")
def choose(waiting: Sequence[Waiting], view: DispatchView) -> int:
    """Least estimated remaining work, or the owed model's least when its credit reaches U."""
    owed = owed_model(view)
    if owed is not None and any(w.model == owed for w in waiting):
        # Jobs of other models sort after every job of the owed model.
        return first_min(waiting, lambda i: (waiting[i].model != owed, view.remaining_s[i]))
    return first_min(waiting, lambda i: (view.remaining_s[i],))
