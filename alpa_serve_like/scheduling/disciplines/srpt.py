"""srpt: shortest remaining processing time, with Paella's deficit-counter fairness threshold.

Paella (Ng et al., SOSP'23, section 4): the job with the least estimated remaining work goes
next, re-decided at every unit boundary. Fairness: if the largest deficit credit among models with
waiting work is >= U (``view.owed_model``), that model's shortest job goes instead of the global
SRPT head (U = inf or 1e6 is pure SRPT; small U approaches round robin over models).
"""
from __future__ import annotations

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, register_discipline


@register_discipline("srpt", kernel_code=1)
def priority(job: Waiting, remaining_s: float, view: DispatchView) -> tuple:
    """The owed model's jobs first (if any), then least estimated remaining work."""
    return (view.owed_model is not None and job.model != view.owed_model, remaining_s)
