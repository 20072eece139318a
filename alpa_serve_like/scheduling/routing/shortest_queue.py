"""shortest_queue: send the request to the group with the fewest outstanding requests."""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.scheduling.routing.registry import Candidate, first_min, register_routing

KERNEL_CODE = 1


@register_routing("shortest_queue", kernel_code=KERNEL_CODE)
def choose(candidates: Sequence[Candidate]) -> int:
    """Fewest admitted-but-unfinished requests; ties go to the lowest group index."""
    return first_min(candidates, lambda c: c.outstanding)
