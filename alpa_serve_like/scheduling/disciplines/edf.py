"""edf: earliest deadline first (jobs without a deadline go last, in arrival order)."""
from __future__ import annotations

from alpa_serve_like.scheduling.disciplines.registry import DispatchView, Waiting, register_discipline


@register_discipline("edf", kernel_code=2)
def priority(job: Waiting, remaining_s: float, view: DispatchView) -> tuple:
    """Earliest ``deadline_s``; ties go to the earlier arrival, then the lower job id."""
    return (job.deadline_s,)
