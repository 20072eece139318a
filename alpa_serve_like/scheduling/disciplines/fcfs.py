"""fcfs: first come, first served (the order this project dispatched every stage in before)."""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, first_min, register_discipline


@register_discipline("fcfs")
def choose(waiting: Sequence[Waiting], view: DispatchView) -> int:
    """Earliest arrival; ties go to the lower job id."""
    return first_min(waiting, lambda i: ())
