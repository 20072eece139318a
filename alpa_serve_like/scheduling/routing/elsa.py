"""elsa: the smallest partition that still meets the SLO with margin (ELSA; Kim, Choi, Rhu, DAC 2022).

Candidates are visited in ascending compute size (``Candidate.compute``; ties by group index). For
each, ``T_wait`` = predicted start - now (its queue's predicted end) and ``T_est`` = predicted
finish - start (the profiled latency of the request's batch there). The request goes to the first
whose slack ``deadline - now`` exceeds ``alpha * (T_wait + beta * T_est)``; if none qualifies, to the
one with the smallest ``T_wait + T_est`` (earliest finish). The paper's constants are not published;
``alpha`` and ``beta`` are parameters: ``elsa`` uses 1 and 1 ("predicted to meet the SLO"), and
``register_elsa(alpha, beta)`` adds a variant under its own name for sweeps. Every variant has the
kernel code ``KERNEL_CODE`` with ``(alpha, beta)`` as its kernel parameters, so the numba simulator
runs it too (``simulator/kernel.py`` repeats this rule in one pass over the candidates).
"""
from __future__ import annotations

from typing import Callable, Sequence

from alpa_serve_like.scheduling.routing.registry import (
    Candidate,
    first_min,
    register_routing,
    resolve_routing,
)

DEFAULT_ALPHA = 1.0
DEFAULT_BETA = 1.0
KERNEL_CODE = 3


def make_elsa(alpha: float, beta: float) -> Callable[[Sequence[Candidate]], int]:
    """The ELSA choice with these constants (``alpha`` > 0 scales the required slack)."""
    if not (alpha > 0.0 and beta >= 0.0):
        raise ValueError(f"elsa: need alpha > 0 and beta >= 0, got alpha={alpha!r}, beta={beta!r}")

    def choose(candidates: Sequence[Candidate]) -> int:
        order = sorted(range(len(candidates)), key=lambda i: (candidates[i].compute, i))
        for i in order:
            c = candidates[i]
            wait_s, est_s = c.start_s - c.now_s, c.finish_s - c.start_s
            if c.deadline_s - c.now_s > alpha * (wait_s + beta * est_s):
                return i
        return first_min(candidates, lambda c: c.finish_s)

    choose.__doc__ = f"ELSA with alpha={alpha:g}, beta={beta:g}: smallest partition with enough slack."
    return choose


register_routing("elsa", KERNEL_CODE, (DEFAULT_ALPHA, DEFAULT_BETA))(make_elsa(DEFAULT_ALPHA, DEFAULT_BETA))


def elsa_name(alpha: float, beta: float) -> str:
    return "elsa" if (alpha, beta) == (DEFAULT_ALPHA, DEFAULT_BETA) else f"elsa[alpha={alpha:g},beta={beta:g}]"


def register_elsa(alpha: float, beta: float) -> str:
    """Register (once) the ELSA variant with these constants; returns its routing-policy name."""
    name = elsa_name(alpha, beta)
    try:
        resolve_routing(name)
    except ValueError:
        register_routing(name, KERNEL_CODE, (alpha, beta))(make_elsa(alpha, beta))
    return name
