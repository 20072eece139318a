"""Model instances: many named copies of a few profiled base models ("bert-1.3b-0" .. "-9").

Experiments serve N independent copies of each architecture (separate weights, separate traffic);
every copy shares the profile of its base model.
"""
from __future__ import annotations

from typing import Mapping

from alpa_serve_like.core.instances import instance_name
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.placement.memory import PlacementInfeasibleError


def parse_model_counts(text: str) -> dict[str, int]:
    """``"bert-1.3b:10,moe-1.3b:10"`` -> ``{"bert-1.3b": 10, "moe-1.3b": 10}`` (count defaults to 1)."""
    out: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, count = item.partition(":")
        try:
            n = int(count) if count else 1
        except ValueError:
            raise ValueError(f"--models item {item!r}: expected NAME or NAME:COUNT with an integer count") from None
        if n < 1:
            raise ValueError(f"--models item {item!r}: count must be >= 1")
        if name in out:
            raise ValueError(f"--models: {name!r} is listed twice")
        out[name] = n
    if not out:
        raise ValueError("--models is empty; give e.g. bert-1.3b:10,moe-1.3b:10")
    return out


def instantiate_models(
    counts: Mapping[str, int], base_profiles: Mapping[str, ModelProfile]
) -> tuple[list[str], dict[str, ModelProfile]]:
    """Names ``{base}-{i}`` for each base and count, and a profile dict covering every name.

    A count of 1 still gets the ``-0`` suffix so names never depend on how many copies there are.
    """
    names: list[str] = []
    profiles: dict[str, ModelProfile] = {}
    for base, n in counts.items():
        if base not in base_profiles:
            known = ", ".join(sorted(base_profiles)) or "none"
            raise PlacementInfeasibleError(f"model {base!r} is not in the profiling database (known: {known})")
        for i in range(n):
            name = instance_name(base, i)
            names.append(name)
            profiles[name] = base_profiles[base]
    return names, profiles
