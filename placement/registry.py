"""The placement-policy registry: every policy plugs in by name, and no name is taken twice.

A policy is a plain function::

    policy(cluster, models, profiles, train_workload, options, rng) -> Placement | PlacementSchedule

``models`` are the model (replica) names to place, ``profiles`` maps each to its ModelProfile,
``train_workload`` is the traffic the policy may look at (never the evaluation traffic), ``options``
a PlacementOptions and ``rng`` a numpy Generator (the only source of randomness). Families with an
integer parameter (``mp-greedy-4``, ``sr-replace-60``) register once under their prefix and are
resolved by name. Online policies (``online=True``) also accept ``observed=`` traffic they may only
read up to "now" (Clockwork++ re-plans from the previous window).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

PolicyFn = Callable[..., object]


class PolicyNameError(KeyError):
    """An unknown policy name, or an attempt to register a name twice."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


@dataclass(frozen=True)
class PolicyEntry:
    """One registered policy (or family) and how to call it."""

    name: str
    fn: PolicyFn
    param: str | None = None
    """For a family ``prefix-<int>``: the keyword the integer is passed as."""
    online: bool = False
    """Whether the policy re-plans from observed traffic (accepts ``observed=``)."""
    summary: str = ""


_REGISTRY: dict[str, PolicyEntry] = {}


def register_policy(name: str, *, param: str | None = None, online: bool = False):
    """Decorator: register ``fn`` as policy ``name`` (or family ``name-<int>`` when ``param`` is set)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name):
        raise PolicyNameError(f"policy name {name!r}: use lower-case words joined by '-'")

    def wrap(fn: PolicyFn) -> PolicyFn:
        if name in _REGISTRY:
            raise PolicyNameError(
                f"policy {name!r} is already registered (by {_REGISTRY[name].fn.__module__}); "
                f"choose another name"
            )
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = PolicyEntry(name, fn, param, online, doc[0] if doc else "")
        return fn

    return wrap


def unregister_policy(name: str) -> None:
    """Remove ``name`` (tests register throw-away policies)."""
    _REGISTRY.pop(name, None)


def policy_names() -> list[str]:
    """Registered names; families are shown as ``prefix-<param>``."""
    return sorted(e.name + (f"-<{e.param}>" if e.param else "") for e in _REGISTRY.values())


def resolve_policy(name: str) -> tuple[PolicyEntry, PolicyFn]:
    """The entry and a callable with the family parameter bound, for a name like ``mp-greedy-4``."""
    entry = _REGISTRY.get(name)
    if entry is not None and entry.param is None:
        return entry, entry.fn
    match = re.fullmatch(r"(.+)-(\d+)", name)
    if match:
        family = _REGISTRY.get(match.group(1))
        if family is not None and family.param is not None:
            value = int(match.group(2))
            if value < 1:
                raise PolicyNameError(f"policy {name!r}: {family.param} must be >= 1")
            return family, functools.partial(family.fn, **{family.param: value})
    if entry is not None:  # a family named without its parameter
        raise PolicyNameError(f"policy {name!r} needs a parameter: use {name}-<{entry.param}>, e.g. {name}-4")
    raise PolicyNameError(f"unknown placement policy {name!r} (known: {', '.join(policy_names())})")
