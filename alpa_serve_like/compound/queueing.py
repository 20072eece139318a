"""How much load a pool of identical servers carries while its waits stay within a budget.

The optimizer's queueing-aware form (``OptimizerOptions.wait_tail_probability``) needs, per slice
option, the largest arrival rate ``n`` instances can take so that an invocation waits longer than
its slack with probability at most ``eps``. A pool of ``c`` servers of service time ``L`` under
Poisson arrivals is the M/M/c queue, whose waiting time has the Erlang-C tail
``P(W > w) = C(c, a) exp(-(c - a) w / L)`` at offered load ``a = lambda L``. Service here is
deterministic and arrivals come in bursts of ``fan_out``, so the wait is scaled by the
Allen-Cunneen factor ``(ca^2 + cs^2) / 2 = fan_out / 2`` (``cs^2 = 0``; a burst of ``f`` arrivals
has index of dispersion ``f``): ``P(W > w) ~= C(c, a) exp(-(c - a) w / (k L))``.

The pool effect is what the throughput-only program missed: ``c - a_max(c)`` (the spare servers
needed) grows like ``sqrt(c)``, so per-server usable load rises with the pool size, and many small
slices each near full load queue more than fewer whole GPUs carrying the same load.

``usable_load`` tabulates ``a_max(c)``; the optimizer bounds an option's served rate by the least
concave majorant of ``a_max(m n) / L`` over its instance counts ``n`` (``m`` MPS copies per
instance), which is linear per piece and exact at the majorant's vertices.
"""
from __future__ import annotations

import math
from functools import lru_cache


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/``servers`` at offered load ``load`` (< servers)."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    b = 1.0  # Erlang B by its stable recursion
    for c in range(1, servers + 1):
        b = load * b / (c + load * b)
    rho = load / servers
    return b / (1 - rho + rho * b)


def wait_tail(servers: int, load: float, slack_ratio: float, burst: float) -> float:
    """Approximate ``P(wait > slack_ratio * L)`` (see the module docstring); ``burst`` is ``k``."""
    if load >= servers:
        return 1.0
    return erlang_c(servers, load) * math.exp(-(servers - load) * slack_ratio / burst)


@lru_cache(maxsize=None)
def usable_load(servers: int, slack_ratio: float, eps: float, burst: float, iters: int = 40) -> float:
    """The largest offered load ``a`` of ``servers`` servers with ``wait_tail <= eps`` (bisection;
    the tail grows with the load)."""
    if servers <= 0:
        return 0.0
    low, high = 0.0, float(servers)
    for _ in range(iters):
        mid = 0.5 * (low + high)
        if wait_tail(servers, mid, slack_ratio, burst) <= eps:
            low = mid
        else:
            high = mid
    return low


def concave_pieces(counts: list[int], rates: list[float]) -> list[tuple[float, float]]:
    """``(intercept, slope)`` lines whose minimum is the least concave majorant of the points
    ``(counts[i], rates[i])`` (counts ascending, starting at 0): the upper hull's edges."""
    hull: list[tuple[int, float]] = []
    for p in zip(counts, rates):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # drop the middle point when it lies on or under the chord from hull[-2] to p
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    pieces = []
    for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
        slope = (y2 - y1) / (x2 - x1)
        pieces.append((y1 - slope * x1, slope))
    return pieces


def count_breakpoints(cap: int) -> list[int]:
    """Instance counts at which an option's usable rate is tabulated: every count to 16, then
    steps of about a quarter, and ``cap`` itself (the rate is near linear there)."""
    counts = list(range(min(cap, 16) + 1))
    n = 16
    while n < cap:
        n = min(cap, max(n + 1, int(n * 1.25)))
        counts.append(n)
    return counts
