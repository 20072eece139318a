"""The routing-policy registry: a policy picks one candidate group for a request.

A policy is a plain function ``choose(candidates) -> index`` over the candidates of one request
(one per group hosting its model, in ascending group order). It must be deterministic and break
ties by the lowest index, so the simulator's kernel and reference, and the runtime, agree.
``kernel_code`` is the integer the numba kernel knows the policy by, and ``kernel_params`` the
constants it passes with it (ELSA's alpha and beta); a policy without a code runs in the reference
simulator and the runtime only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

RoutingPolicy = Literal["earliest_finish", "shortest_queue", "elsa", "last_stage_free"]
"""Names of the built-in policies (the registry may hold more)."""


@dataclass(frozen=True)
class Candidate:
    """What routing knows about placing one request on one group."""

    group: int
    replica: int
    """Row of the latency tables: this model on this group."""
    finish_s: float
    """Predicted finish of the request's last stage on this group."""
    outstanding: int
    """Requests admitted to the group whose batch has not completed yet."""
    joins_batch: bool
    """Whether the request would join the group's queued tail batch instead of starting one."""
    start_s: float = math.nan
    """Predicted start of the request's (batch's) first stage on this group."""
    now_s: float = math.nan
    """The request's arrival time as the scheduler saw it."""
    deadline_s: float = math.inf
    """The request's deadline (inf when the caller gave none)."""
    compute: float = 1.0
    """The group's compute size (MIG compute slices of its device; 1 when the tables say nothing)."""
    last_stage_free_s: float = float("-inf")
    """When the group's last stage finishes the work committed before this request."""


@dataclass(frozen=True)
class RoutingEntry:
    name: str
    choose: Callable[[Sequence[Candidate]], int]
    kernel_code: int | None
    doc: str
    kernel_params: tuple[float, ...] = ()
    """Constants the kernel's version of the policy takes (variants of one policy share a code)."""


_REGISTRY: dict[str, RoutingEntry] = {}


def register_routing(name: str, kernel_code: int | None = None, kernel_params: tuple[float, ...] = ()):
    """Decorator: register ``choose`` under ``name``; duplicate names, or a kernel code already
    taken with the same ``kernel_params``, are refused."""

    def wrap(fn: Callable[[Sequence[Candidate]], int]):
        if name in _REGISTRY:
            raise ValueError(f"routing policy {name!r} is already registered")
        params = tuple(float(v) for v in kernel_params)
        if kernel_code is not None and any((e.kernel_code, e.kernel_params) == (kernel_code, params)
                                           for e in _REGISTRY.values()):
            raise ValueError(f"routing policy {name!r}: kernel code {kernel_code} is already taken")
        _REGISTRY[name] = RoutingEntry(name, fn, kernel_code, (fn.__doc__ or "").strip(), params)
        return fn

    return wrap


def resolve_routing(name: str) -> RoutingEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown routing policy {name!r} (known: {', '.join(sorted(_REGISTRY))})"
        ) from None


DISCIPLINE_ROUTING = "shortest_queue"
"""Routing under a queue discipline other than fcfs: the fewest outstanding requests. The other
policies rank groups by a FIFO finish prediction, which bounds nothing once later work can overtake."""


def effective_routing(routing: str, discipline: str) -> str:
    """The routing policy that actually runs: ``routing`` under fcfs, else ``DISCIPLINE_ROUTING``
    (the simulator's queue engine and the runtime both route by this)."""
    return routing if discipline == "fcfs" else DISCIPLINE_ROUTING


def routing_names() -> list[str]:
    return sorted(_REGISTRY)


def first_min(candidates: Sequence[Candidate], key: Callable[[Candidate], float]) -> int:
    """Index of the first candidate with the smallest key (ties: lowest index)."""
    best, best_key = 0, key(candidates[0])
    for i in range(1, len(candidates)):
        k = key(candidates[i])
        if k < best_key:
            best, best_key = i, k
    return best
