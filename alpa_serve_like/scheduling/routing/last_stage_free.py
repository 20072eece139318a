"""last_stage_free: send the request to the group whose last stage frees first (AlpaServe's simulator rule).

AlpaServe's simulator (alpa-projects/mms, ``alpa_serve/simulator``) picks, among the groups hosting
the model, the one with the smallest clock, keeping the first on ties. Unlike ``earliest_finish``
this ignores how long the request itself takes there (a group with a deeper pipeline or a slower
config can win), which is what makes the two simulators disagree on the same placement.
"""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.routing.registry import Candidate, first_min, register_routing

KERNEL_CODE = 2


@register_routing("last_stage_free", kernel_code=KERNEL_CODE)
def choose(candidates: Sequence[Candidate]) -> int:
    """Earliest last-stage clock before this request; ties go to the lowest group index."""
    return first_min(candidates, lambda c: c.last_stage_free_s)
