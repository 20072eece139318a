"""fcfs: first come, first served (the order this project dispatched every stage in before)."""
from __future__ import annotations

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, register_discipline


@register_discipline("fcfs", kernel_code=0)
def priority(job: Waiting, remaining_s: float, view: DispatchView) -> tuple:
    """Earliest arrival (the tie-breaks are the whole key); ties go to the lower job id."""
    return ()
