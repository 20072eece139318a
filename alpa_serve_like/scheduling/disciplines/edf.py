"""edf: earliest deadline first (jobs without a deadline go last, in arrival order)."""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, first_min, register_discipline


@register_discipline("edf")
def choose(waiting: Sequence[Waiting], view: DispatchView) -> int:
    """Earliest ``deadline_s``; ties go to the earlier arrival, then the lower job id."""
    return first_min(waiting, lambda i: (waiting[i].deadline_s,))
