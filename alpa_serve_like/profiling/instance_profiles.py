"""Latency profiles of a placement's model instances, as the controller's predictions need them.

Every instance uses its own profile on a device if the database has one, else its base model's
("bert-tiny-1" -> "bert-tiny"). A model missing from the database is an
error that says how to profile it: serving on guessed latencies would make admission meaningless.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from alpa_serve_like.core.instances import base_model_name, lookup_instance
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path


def instance_profiles(models: Iterable[str], database: ProfilingDatabase, device: str) -> dict[str, ModelProfile]:
    """``instance name -> its profile on device`` (its own, else its base model's); a DatabaseError
    names every missing instance, the known models and how to profile the missing bases."""
    per_device = database.for_device(device)
    out, missing = {}, []
    for name in models:
        profile = lookup_instance(name, per_device)
        if profile is None:
            missing.append(name)
        else:
            out[name] = profile
    if missing:
        bases = ",".join(sorted({base_model_name(m) for m in missing}))
        raise DatabaseError(
            f"no profile on {device} for {', '.join(sorted(missing)[:10])} "
            f"(known: {', '.join(sorted(per_device))}); latencies of an instance come from its base "
            f"model: profile it with 'alpa-serve-like profile --models {bases} --device {device}'"
        )
    return out


def profiles_per_device(placement: Placement, database: ProfilingDatabase,
                        group_devices: Sequence[str]) -> dict[str, dict[str, ModelProfile]]:
    """``device type -> instance_profiles`` of the models its groups host, group ``g`` running on
    ``group_devices[g]``: what the simulator and the controller price a plan of mixed devices with."""
    if len(group_devices) != len(placement.groups):
        raise ValueError(f"{len(group_devices)} device types for {len(placement.groups)} placement groups")
    return {d: instance_profiles(dict.fromkeys(m for g, gd in zip(placement.groups, group_devices) if gd == d
                                               for m in g.models), database, d)
            for d in dict.fromkeys(group_devices)}


def load_database(path: str = "") -> ProfilingDatabase:
    """The database at ``path`` (empty: ``default_database_path()``)."""
    return ProfilingDatabase.load(path or default_database_path())
