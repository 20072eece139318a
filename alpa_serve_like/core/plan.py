"""Placement: the plain value the optimizer produces and the simulator and runtime consume.

A placement partitions the cluster's devices into groups. Each group runs one pipeline with a
ParallelConfig (``op * pp`` devices, ``dp`` is always 1 inside a group) and holds a replica of every
model it lists. A ``PlacementSchedule`` switches between placements at fixed times (Clockwork++).

A plan also records what it was made for (``PlanContext``: device type, memory budget, scheduling
options, SLO, database fingerprint, models left out), so the commands that read it take their
defaults from it instead of guessing. File format version 2 writes these as top-level fields;
version-1 files (no context) still load, with every context field absent.

A group may name its own device type (``GroupPlacement.device``: a MIG slice such as
``a100-80gb/3g.40gb``, or another GPU generation); a group without one runs on the plan's
``context.device``. Such a plan is written as version 3 and every other plan as version 2, so an
older reader still loads a one-device plan and refuses a mixed one instead of running each group
on the plan's device without a word.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from alpa_serve_like.core.parallel_config import ParallelConfig

FORMAT = "alpa_serve_like.placement"
VERSION = 3
"""3 added the per-group ``device``; 2 the top-level context fields (``PlanContext``); 1 had groups
and meta only. A plan is written with the lowest version that holds it (``_version_needed``)."""


class PlacementError(ValueError):
    """A placement file or value is malformed or does not fit the cluster."""


MAX_DEVICES = 65536
"""Largest op, pp, op * pp and device id a placement file may hold: far beyond any cluster this
models, so a larger number is a typo or a damaged file, refused at load instead of allocating a
million-stage pipeline."""

WHAT = "a placement JSON (from 'alpa-serve-like place')"


def _int_in(value, name: str, lo: int, hi: int, where: str) -> int:
    """``value`` if it is an int in ``[lo, hi]``; a float, bool or text is refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PlacementError(f"{where}: {name} must be an integer in {lo}..{hi}, got {_short(value)}")
    return value


def _read_json(path: str | os.PathLike):
    """The JSON value in ``path``; every way the file can be unreadable is a PlacementError naming it."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PlacementError(f"placement file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise PlacementError(f"placement file {str(path)!r} is a directory; expected {WHAT}") from None
    except UnicodeDecodeError as exc:
        raise PlacementError(f"placement file {str(path)!r}: not UTF-8 text (byte {exc.start}); expected {WHAT}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlacementError(f"placement file {str(path)!r}: invalid JSON ({exc}); expected {WHAT}") from None
    except RecursionError:
        raise PlacementError(f"placement file {str(path)!r}: JSON nested too deeply; expected {WHAT}") from None


def _check_loaded(plan, path) -> None:
    """Refuse a plan that hosts nothing (it would serve nothing and score 0 % without a word) and
    one that gives a device to two groups of the same placement."""
    if not plan.models:
        raise PlacementError(f"placement file {str(path)!r} has no groups hosting a model; expected {WHAT} "
                             "that places at least one model")
    for i, placement in enumerate(getattr(plan, "segments", (plan,))):
        try:
            placement.device_assignment()
        except PlacementError as exc:
            where = f"segment {i}: " if len(getattr(plan, "segments", ())) > 1 else ""
            raise PlacementError(f"placement file {str(path)!r}: {where}{str(exc).removeprefix('placement: ')}") from None


@dataclass(frozen=True)
class PlanContext:
    """What a plan was optimised for; every field is None (or empty) when unknown (version-1 files).

    ``scheduling`` is a plain mapping of the ``SchedulingOptions`` fields (core does not import the
    scheduling package; ``alpa_serve_like.scheduling`` converts at the edges).
    """

    device: str | None = None
    """Device type name in the profiling database, e.g. ``a100-80gb``."""
    memory_budget_bytes: int | None = None
    """Per-device memory the placement was checked against (weights plus activations)."""
    scheduling: Mapping = field(default_factory=dict)
    """The scheduling options it was scored under; at least ``max_batch_size``."""
    slo: Mapping = field(default_factory=dict)
    """``{"scale": x}`` (SLO = x times single-device latency) or ``{"per_model_s": {name: s}}``."""
    database_fingerprint: str | None = None
    """``ProfilingDatabase.fingerprint()`` of the database whose profiles it was optimised on."""
    unplaced: tuple[str, ...] = ()
    """Models asked for but left out (only written when the user allowed it: ``--allow-unplaced``)."""

    def __post_init__(self):
        if self.memory_budget_bytes is not None and self.memory_budget_bytes <= 0:
            raise PlacementError(f"plan: memory_budget_bytes must be > 0, got {self.memory_budget_bytes}")
        if self.slo and not (set(self.slo) <= {"scale", "per_model_s"}):
            raise PlacementError(f"plan: slo must be {{'scale': x}} or {{'per_model_s': {{...}}}}, got {dict(self.slo)}")

    @property
    def max_batch_size(self) -> int | None:
        value = self.scheduling.get("max_batch_size")
        return None if value is None else int(value)

    def to_dict(self) -> dict:
        """The known fields only (an unknown one is left out, not written as null)."""
        out: dict = {}
        if self.device is not None:
            out["device"] = self.device
        if self.memory_budget_bytes is not None:
            out["memory_budget_bytes"] = int(self.memory_budget_bytes)
        if self.scheduling:
            out["scheduling"] = dict(self.scheduling)
        if self.slo:
            out["slo"] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.slo.items()}
        if self.database_fingerprint is not None:
            out["database_fingerprint"] = self.database_fingerprint
        if self.unplaced:
            out["unplaced"] = list(self.unplaced)
        return out

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "plan") -> "PlanContext":
        """The context fields of a plan file; a malformed one is refused naming the field, e.g.
        ``plan.json: 'slo.scale' must be a number > 0, got -1``."""
        device, unplaced = data.get("device"), data.get("unplaced", ())
        if device is not None and (not isinstance(device, str) or not device or any(c.isspace() for c in device)):
            # an empty name would read as "no device recorded" and fall back to v100-16gb
            raise PlacementError(f"{where}: 'device' must be a device type name such as 'a100-80gb', got {device!r}")
        if not isinstance(unplaced, (list, tuple)) or not all(isinstance(m, str) for m in unplaced):
            raise PlacementError(f"{where}: 'unplaced' must be a list of model names, got {_short(unplaced)}")
        budget = data.get("memory_budget_bytes")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
            raise PlacementError(f"{where}: 'memory_budget_bytes' must be > 0 (a whole number of bytes), "
                                 f"got {_short(budget)}")
        fingerprint = data.get("database_fingerprint")
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise PlacementError(f"{where}: 'database_fingerprint' must be a string such as 'sha256:...', "
                                 f"got {_short(fingerprint)}")
        scheduling = data.get("scheduling") or {}
        if not isinstance(scheduling, Mapping):
            raise PlacementError(f"{where}: 'scheduling' must be an object of scheduling options such as "
                                 f"{{\"max_batch_size\": 1}}, got {_short(scheduling)}")
        if "max_batch_size" in scheduling:
            _int_in(scheduling["max_batch_size"], "'scheduling.max_batch_size'", 1, MAX_BATCH_SIZE, where)
        return cls(device=device, memory_budget_bytes=budget, scheduling=dict(scheduling),
                   slo=_slo_from_dict(data.get("slo") or {}, where), database_fingerprint=fingerprint,
                   unplaced=tuple(unplaced))


MAX_BATCH_SIZE = 1 << 20
"""Largest ``scheduling.max_batch_size`` a plan file may hold (a larger one is a typo)."""


def _positive_number(value, name: str, where: str) -> float:
    """``value`` as a float if it is a number > 0 (a bool or text is refused, not converted; infinity
    passes: a workload may give a model no SLO, and the plan records what it was given)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise PlacementError(f"{where}: {name} must be a number > 0, got {_short(value)}")
    return float(value)


def _slo_from_dict(slo, where: str) -> dict:
    """A plan's ``slo`` record with every number checked: ``{"scale": x}`` or ``{"per_model_s": {...}}``."""
    if not isinstance(slo, Mapping) or not set(slo) <= {"scale", "per_model_s"}:
        raise PlacementError(f"{where}: 'slo' must be {{'scale': x}} or {{'per_model_s': {{...}}}}, got {_short(slo)}")
    out = dict(slo)
    if "scale" in out:
        out["scale"] = _positive_number(out["scale"], "'slo.scale'", where)
    if "per_model_s" in out:
        per_model = out["per_model_s"]
        if not isinstance(per_model, Mapping):
            raise PlacementError(f"{where}: 'slo.per_model_s' must map model names to seconds, got {_short(per_model)}")
        out["per_model_s"] = {str(k): _positive_number(v, f"'slo.per_model_s.{k}'", where) for k, v in per_model.items()}
    return out


def _check_version(data: Mapping, where: str) -> None:
    version = data.get("version", 1)
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise PlacementError(
            f"{where}: placement file version {version!r} is not supported (this alpa_serve_like reads "
            f"1..{VERSION}); upgrade alpa_serve_like or re-run 'alpa-serve-like place'"
        )


@dataclass(frozen=True)
class GroupPlacement:
    """One device group: its parallel configuration and the models it replicates."""

    config: ParallelConfig
    models: tuple[str, ...]
    device_ids: tuple[int, ...] = ()
    """Explicit cluster device indices, ``op * pp`` of them; empty means "assign contiguously"."""
    device: str | None = None
    """Device type of this group's devices (``a100-80gb/3g.40gb``, ``v100-16gb``); None: the
    plan's ``context.device``. A group is built from devices of one type only."""

    def __post_init__(self):
        if self.device is not None and (not isinstance(self.device, str) or not self.device.strip()
                                        or any(c.isspace() for c in self.device)):
            raise PlacementError(f"group {self.config}: device must be a device type name such as "
                                 f"'a100-80gb/3g.40gb', got {self.device!r}")
        if self.config.dp != 1:
            raise PlacementError(f"group {self.config}: dp must be 1 inside a group (use more groups)")
        if len(set(self.models)) != len(self.models):
            raise PlacementError(f"group {self.config}: a model is listed twice in {list(self.models)}")
        if self.device_ids and len(self.device_ids) != self.num_devices:
            raise PlacementError(
                f"group {self.config}: {len(self.device_ids)} device_ids for {self.num_devices} devices"
            )

    @property
    def num_devices(self) -> int:
        return self.config.op * self.config.pp

    def to_dict(self) -> dict:
        out = {"op": self.config.op, "pp": self.config.pp, "models": list(self.models)}
        if self.device_ids:
            out["device_ids"] = list(self.device_ids)
        if self.device is not None:
            out["device"] = self.device
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "group") -> "GroupPlacement":
        if not isinstance(data, dict):
            raise PlacementError(f"{where}: expected an object with 'op', 'pp' and 'models', got {_short(data)}")
        dp = data.get("dp", 1)
        if isinstance(dp, bool) or dp != 1:
            raise PlacementError(f"{where}: 'dp' must be 1 inside a group, got {_short(dp)}; for more "
                                 f"replicas write more groups hosting the model")
        op = _int_in(data.get("op", 1), "'op'", 1, MAX_DEVICES, where)
        pp = _int_in(data.get("pp", 1), "'pp'", 1, MAX_DEVICES, where)
        if op * pp > MAX_DEVICES:
            raise PlacementError(f"{where}: op * pp = {op * pp} devices; at most {MAX_DEVICES} per group")
        if "models" not in data:
            raise PlacementError(f"{where}: missing field 'models'")
        models, ids = data["models"], data.get("device_ids", [])
        if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) and m.strip() for m in models):
            raise PlacementError(f"{where}: 'models' must be a list of model names, got {_short(models)}")
        if not isinstance(ids, (list, tuple)):
            raise PlacementError(f"{where}: 'device_ids' must be a list of device indices, got {_short(ids)}")
        for i, device in enumerate(ids):
            _int_in(device, f"device_ids[{i}]", 0, MAX_DEVICES - 1, where)
        device = data.get("device")
        if device is not None and not isinstance(device, str):
            raise PlacementError(f"{where}: 'device' must be a device type name such as 'a100-80gb/3g.40gb', "
                                 f"got {_short(device)}")
        try:
            return cls(config=ParallelConfig(1, op, pp), models=tuple(models), device_ids=tuple(ids),
                       device=device)
        except ValueError as exc:
            raise PlacementError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Placement:
    """Groups of devices and the models on each; ``meta`` carries how it was made (policy, time),
    ``context`` what it was made for (device, budget, scheduling, SLO). Equality is by groups."""

    groups: tuple[GroupPlacement, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    context: PlanContext = field(default_factory=PlanContext, compare=False, hash=False)

    def with_context(self, context: PlanContext) -> "Placement":
        return replace(self, context=context)

    @property
    def num_devices(self) -> int:
        return sum(g.num_devices for g in self.groups)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model hosted by at least one group, in first-seen order."""
        seen: dict[str, None] = {}
        for group in self.groups:
            seen.update(dict.fromkeys(group.models))
        return tuple(seen)

    def groups_hosting(self, model: str) -> list[int]:
        return [i for i, g in enumerate(self.groups) if model in g.models]

    def group_device(self, index: int) -> str | None:
        """Device type group ``index`` runs on: its own, else the plan's (None when neither is known)."""
        return self.groups[index].device or self.context.device

    def group_devices(self) -> tuple[str | None, ...]:
        return tuple(self.group_device(i) for i in range(len(self.groups)))

    @property
    def device_types(self) -> tuple[str, ...]:
        """Distinct known device types of the groups, in first-seen order."""
        return tuple(dict.fromkeys(d for d in self.group_devices() if d is not None))

    @property
    def is_mixed(self) -> bool:
        """Whether the groups run on more than one device type (an unknown one counts as a type)."""
        return len(set(self.group_devices())) > 1

    def summary(self) -> str:
        """Short human text: ``4x(op1,pp2)[3 models] 2x(op2,pp1)[5 models]``."""
        parts = []
        for g in self.groups:
            where = f"{g.device}:" if g.device is not None else ""
            parts.append(f"{where}(op{g.config.op},pp{g.config.pp})[{len(g.models)}]")
        return " ".join(parts) if parts else "(empty)"

    def device_assignment(self) -> list[tuple[int, ...]]:
        """Device ids of each group: explicit ones, else contiguous blocks in group order."""
        out, next_id = [], 0
        for g in self.groups:
            if g.device_ids:
                out.append(g.device_ids)
            else:
                out.append(tuple(range(next_id, next_id + g.num_devices)))
                next_id += g.num_devices
        owner: dict[int, int] = {}
        for i, ids in enumerate(out):
            for d in ids:
                if d in owner:
                    whom = f"groups {owner[d]} and {i}" if owner[d] != i else f"group {i} twice"
                    raise PlacementError(f"placement: device {d} is assigned to {whom} (device ids: "
                                         f"{[list(x) for x in out]}); give every group its own devices")
                owner[d] = i
        return out

    def check_fits(self, num_devices: int) -> None:
        if self.num_devices > num_devices:
            raise PlacementError(
                f"placement uses {self.num_devices} devices but the cluster has {num_devices}"
            )
        ids = [d for ids in self.device_assignment() for d in ids]
        if ids and max(ids) >= num_devices:
            raise PlacementError(f"placement names device {max(ids)} but the cluster has {num_devices}")

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": _version_needed((self,)),
            **self.context.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "placement") -> "Placement":
        if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
            raise PlacementError(f"{where}: expected a JSON object with a 'groups' list")
        _check_version(data, where)
        if not isinstance(data.get("meta", {}), dict):
            raise PlacementError(f"{where}: 'meta' must be an object, got {_short(data['meta'])}")
        groups = tuple(
            GroupPlacement.from_dict(g, f"{where} group {i}") for i, g in enumerate(data["groups"])
        )
        return cls(groups=groups, meta=dict(data.get("meta", {})), context=PlanContext.from_dict(data, where))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Placement":
        """The placement in ``path``; refuses (PlacementError naming the file) a malformed file, a
        schedule, and a placement with no groups (``place`` never writes one)."""
        data = _read_json(path)
        if isinstance(data, dict) and "segments" in data:
            raise PlacementError(
                f"{path}: this is a time-switched placement schedule; load it with PlacementSchedule.load"
            )
        placement = cls.from_dict(data, where=str(path))
        _check_loaded(placement, path)
        return placement


@dataclass(frozen=True)
class PlacementSchedule:
    """Placements switched at fixed times: ``segments[i]`` is in force from ``start_s[i]`` on."""

    start_s: tuple[float, ...]
    segments: tuple[Placement, ...]
    context: PlanContext = field(default_factory=PlanContext, compare=False, hash=False)
    """What the whole schedule was made for (its segments' own contexts are left empty)."""

    def with_context(self, context: PlanContext) -> "PlacementSchedule":
        return replace(self, context=context)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model hosted by some segment, in first-seen order."""
        seen: dict[str, None] = {}
        for seg in self.segments:
            seen.update(dict.fromkeys(seg.models))
        return tuple(seen)

    def __post_init__(self):
        if len(self.start_s) != len(self.segments) or not self.segments:
            raise PlacementError("schedule: need one start time per placement, and at least one")
        if list(self.start_s) != sorted(self.start_s):
            raise PlacementError(f"schedule: start times must be sorted, got {list(self.start_s)}")

    def to_dict(self) -> dict:
        return {
            "format": FORMAT + ".schedule",
            "version": _version_needed(self.segments),
            **self.context.to_dict(),
            "segments": [{"start_s": s, "placement": p.to_dict()} for s, p in zip(self.start_s, self.segments)],
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "schedule") -> "PlacementSchedule":
        segs = data.get("segments")
        if not isinstance(segs, list) or not segs:
            raise PlacementError(f"{where}: expected a non-empty 'segments' list")
        _check_version(data, where)
        start_s = []
        for i, seg in enumerate(segs):
            start = seg.get("start_s") if isinstance(seg, dict) else None
            if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start):
                raise PlacementError(f"{where} segment {i}: expected an object with a finite number 'start_s' "
                                     f"and a 'placement', got {_short(seg)}")
            start_s.append(float(start))
        return cls(
            start_s=tuple(start_s),
            segments=tuple(Placement.from_dict(s.get("placement"), f"{where} segment {i}") for i, s in enumerate(segs)),
            context=PlanContext.from_dict(data, where),
        )

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PlacementSchedule":
        """The schedule in ``path`` (a plain placement file is a schedule of one segment); refuses
        a malformed file and one whose segments host no model."""
        data = _read_json(path)
        if not isinstance(data, dict):
            raise PlacementError(f"{path}: expected a JSON object with a 'groups' or 'segments' list")
        if "segments" not in data:
            one = Placement.from_dict(data, str(path))
            schedule = cls(start_s=(0.0,), segments=(one,), context=one.context)
        else:
            schedule = cls.from_dict(data, where=str(path))
        _check_loaded(schedule, path)
        return schedule


def _version_needed(placements) -> int:
    """3 when some group names its own device, else 2 (what older readers can load correctly)."""
    return 3 if any(g.device is not None for p in placements for g in p.groups) else 2


def load_plan(path: str | os.PathLike) -> Placement | PlacementSchedule:
    """A placement file as what it is: a ``Placement``, or a ``PlacementSchedule`` of several segments."""
    schedule = PlacementSchedule.load(path)
    if len(schedule.segments) == 1 and schedule.start_s == (0.0,):
        return schedule.segments[0]
    return schedule


def _short(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a message never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
