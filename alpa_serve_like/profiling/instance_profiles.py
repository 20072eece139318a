"""Latency profiles of a placement's model instances, as the controller's predictions need them.

Every instance uses its base model's profile ("bert-tiny-1" -> "bert-tiny") on the options'
``profile_device``, read from the profiling database. A model missing from the database is an
error that says how to profile it: serving on guessed latencies would make admission meaningless.
"""
from __future__ import annotations

from typing import Iterable

from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path
from alpa_serve_like.core.instances import base_model_name


def instance_profiles(models: Iterable[str], database: ProfilingDatabase, device: str) -> dict[str, ModelProfile]:
    """``instance name -> profile of its base model on device``; DatabaseError names what is missing."""
    out = {}
    for name in models:
        base = base_model_name(name)
        try:
            out[name] = database.get(base, device)
        except DatabaseError as exc:
            raise DatabaseError(
                f"{exc}. The runtime predicts latencies of {name!r} from base model {base!r}: "
                f"profile it with 'alpa-serve-like profile --models {base} --device {device}'"
            ) from None
    return out


def load_database(path: str = "") -> ProfilingDatabase:
    """The database at ``path`` (empty: ``default_database_path()``)."""
    return ProfilingDatabase.load(path or default_database_path())
