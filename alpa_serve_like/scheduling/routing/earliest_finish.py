"""earliest_finish: send the request to the group predicted to finish it first (AlpaServe's rule)."""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.routing.registry import Candidate, first_min, register_routing

KERNEL_CODE = 0


@register_routing("earliest_finish", kernel_code=KERNEL_CODE)
def choose(candidates: Sequence[Candidate]) -> int:
    """Smallest predicted finish time; ties go to the lowest group index."""
    return first_min(candidates, lambda c: c.finish_s)
