"""``SchedulingOptions`` as a plan records them: a plain mapping (core does not import scheduling).

A plan's ``context.scheduling`` is written by ``scheduling_record`` when the plan is made and read
back by ``scheduling_from_record`` by the commands that run it (simulate, serve).
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Mapping

from alpa_serve_like.scheduling.options import SchedulingOptions


def scheduling_record(options: SchedulingOptions) -> dict:
    """Every field of ``options`` as plain JSON-able values."""
    return asdict(options)


def scheduling_from_record(record: Mapping, **overrides) -> SchedulingOptions:
    """``SchedulingOptions`` from a plan's record; ``overrides`` (not None) win. Unknown keys (a newer
    writer's) are ignored so an older reader still runs the plan with the fields it knows."""
    known = {f.name for f in fields(SchedulingOptions)}
    values = {k: v for k, v in record.items() if k in known}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SchedulingOptions(**values)
