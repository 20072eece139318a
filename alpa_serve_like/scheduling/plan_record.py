"""``SchedulingOptions`` as a plan records them: a plain mapping (core does not import scheduling).

A plan's ``context.scheduling`` is written by ``scheduling_record`` when the plan is made and read
back by ``scheduling_from_record`` by the commands that run it (simulate, serve).
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Mapping

from alpa_serve_like.core.plan import PlacementError
from alpa_serve_like.scheduling.options import SchedulingOptions


def scheduling_record(options: SchedulingOptions) -> dict:
    """Every field of ``options`` as plain JSON-able values."""
    return asdict(options)


def unknown_record_fields(record: Mapping) -> list[str]:
    """Keys of a plan's scheduling record that this version's ``SchedulingOptions`` does not have
    (a newer writer's field, or a typo in a hand-written plan); the reader ignores them."""
    known = {f.name for f in fields(SchedulingOptions)}
    return sorted(k for k in record if k not in known)


def _check_types(record: Mapping) -> None:
    """Each known field has its default's JSON type: ``"admission": "false"`` would otherwise be a
    true string and turn admission on, and ``"max_batch_size": 4.0`` fail deep in the simulator."""
    for f in fields(SchedulingOptions):
        if f.name not in record:
            continue
        value, default = record[f.name], f.default
        if isinstance(default, bool):
            ok, what = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, what = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif isinstance(default, float):
            ok, what = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        else:
            ok, what = isinstance(value, str), "a name"
        if not ok:
            raise PlacementError(f"the plan's 'scheduling.{f.name}' must be {what}, got {value!r}")


def scheduling_from_record(record: Mapping, **overrides) -> SchedulingOptions:
    """``SchedulingOptions`` from a plan's record; ``overrides`` (not None) win. Unknown keys (a newer
    writer's) are ignored so an older reader still runs the plan with the fields it knows
    (``unknown_record_fields`` lists them, for a note). A known field of the wrong type or value
    is refused (``PlacementError`` naming ``scheduling.FIELD``)."""
    known = {f.name for f in fields(SchedulingOptions)}
    values = {k: v for k, v in record.items() if k in known}
    _check_types(values)
    try:
        SchedulingOptions(**values)
    except ValueError as exc:
        raise PlacementError(f"the plan's 'scheduling' record: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SchedulingOptions(**values)
