"""The queue-discipline registry: a discipline ranks the jobs waiting to dispatch their next unit.

A discipline is a plain function ``priority(job, remaining_s, view) -> tuple``: the dispatcher
serves the waiting job (waiting for its next stage, or GPU kernel) with the smallest tuple, ties
broken by arrival time and then job id (``rank`` appends both), so every simulator that uses it,
and the runtime, agree. ``view`` is a read-only ``DispatchView`` of what the dispatcher knows at
that moment. A key per job (rather than a choice over the queue) lets a dispatcher order the whole
queue once and walk it, e.g. to backfill kernels that fit. The mutable state a discipline reads
(estimates, credits) is owned by ``DisciplineState``, never by the function.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Mapping

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
    owed_model: str | None = None
    """The model with the largest credit if that credit is >= U (ties: the smaller name)."""


Priority = Callable[[Waiting, float, DispatchView], tuple]


@dataclass(frozen=True)
class DisciplineEntry:
    name: str
    priority: Priority
    doc: str
    kernel_code: int | None = None
    """The integer the cluster simulator's numba kernel knows the discipline by (None: the
    reference simulator and the runtime only)."""

    def rank(self, job: Waiting, remaining_s: float, view: DispatchView) -> tuple:
        """The full sort key: the discipline's priority, then arrival time, then job id."""
        return (*self.priority(job, remaining_s, view), job.arrival_s, job.job)


_REGISTRY: dict[str, DisciplineEntry] = {}


def register_discipline(name: str, kernel_code: int | None = None):
    """Decorator: register ``priority`` under ``name``; a duplicate name or kernel code is refused."""

    def wrap(fn: Priority) -> Priority:
        if name in _REGISTRY:
            raise ValueError(f"queue discipline {name!r} is already registered")
        if kernel_code is not None and any(e.kernel_code == kernel_code for e in _REGISTRY.values()):
            raise ValueError(f"queue discipline kernel code {kernel_code} is already taken")
        _REGISTRY[name] = DisciplineEntry(name, fn, (fn.__doc__ or "").strip(), kernel_code)
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
