"""The queue-discipline registry: a discipline picks which waiting job is dispatched next.

A discipline is a plain function ``choose(waiting, view) -> index`` over the jobs waiting for their
next unit of work (a stage, or a GPU kernel), given a read-only ``DispatchView`` of what the
dispatcher knows at that moment (estimated remaining work per waiting job, fairness credits).
It must be deterministic and break ties by arrival time and then job id, so every simulator that
uses it, and the runtime, agree. The mutable state a discipline reads (estimates, credits) is
owned by ``DisciplineState``, never by the function.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence

QueueDiscipline = Literal["fcfs", "srpt", "edf"]
"""Names of the built-in disciplines (the registry may hold more)."""


@dataclass(frozen=True)
class Waiting:
    """One job waiting for the dispatch of its next unit (stage or kernel)."""

    job: int
    model: str
    arrival_s: float
    next_unit: int
    """Index of the unit to dispatch next (0 = the job has not started)."""
    num_units: int
    deadline_s: float = math.inf


@dataclass(frozen=True)
class DispatchView:
    """What a discipline may read when choosing: everything the dispatcher knows, read-only."""

    now_s: float
    remaining_s: tuple[float, ...]
    """Estimated remaining work of each waiting job (same order as ``waiting``)."""
    credits: Mapping[str, float]
    """Deficit credit of each model with waiting work (see ``fairness.DeficitCredits``)."""
    fairness_threshold: float
    """U: a model whose credit reaches U is served next. ``math.inf`` = no fairness rule."""


Choose = Callable[[Sequence[Waiting], DispatchView], int]


@dataclass(frozen=True)
class DisciplineEntry:
    name: str
    choose: Choose
    doc: str


_REGISTRY: dict[str, DisciplineEntry] = {}


def register_discipline(name: str):
    """Decorator: register ``choose`` under ``name``; a duplicate name is refused."""

    def wrap(fn: Choose) -> Choose:
        if name in _REGISTRY:
            raise ValueError(f"queue discipline {name!r} is already registered")
        _REGISTRY[name] = DisciplineEntry(name, fn, (fn.__doc__ or "").strip())
        return fn

    return wrap


def resolve_discipline(name: str) -> DisciplineEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown queue discipline {name!r} (known: {', '.join(sorted(_REGISTRY))})"
        ) from None


def discipline_names() -> list[str]:
    return sorted(_REGISTRY)


def first_min(waiting: Sequence[Waiting], key: Callable[[int], tuple]) -> int:
    """Index ``i`` with the smallest ``key(i)``; ties go to the earlier arrival, then the lower job id."""
    if not waiting:
        raise ValueError("a discipline was asked to choose from an empty queue")
    best, best_key = 0, (*key(0), waiting[0].arrival_s, waiting[0].job)
    for i in range(1, len(waiting)):
        k = (*key(i), waiting[i].arrival_s, waiting[i].job)
        if k < best_key:
            best, best_key = i, k
    return best
