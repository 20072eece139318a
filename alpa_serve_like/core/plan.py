"""Placement: the plain value the optimizer produces and the simulator and runtime consume.

A placement partitions the cluster's devices into groups. Each group runs one pipeline with a
ParallelConfig (``op * pp`` devices, ``dp`` is always 1 inside a group) and holds a replica of every
model it lists. A ``PlacementSchedule`` switches between placements at fixed times (Clockwork++).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from alpa_serve_like.core.parallel_config import ParallelConfig

FORMAT = "alpa_serve_like.placement"
VERSION = 1


class PlacementError(ValueError):
    """A placement file or value is malformed or does not fit the cluster."""


@dataclass(frozen=True)
class GroupPlacement:
    """One device group: its parallel configuration and the models it replicates."""

    config: ParallelConfig
    models: tuple[str, ...]
    device_ids: tuple[int, ...] = ()
    """Explicit cluster device indices, ``op * pp`` of them; empty means "assign contiguously"."""

    def __post_init__(self):
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
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "group") -> "GroupPlacement":
        try:
            return cls(
                config=ParallelConfig(1, int(data.get("op", 1)), int(data.get("pp", 1))),
                models=tuple(str(m) for m in data["models"]),
                device_ids=tuple(int(d) for d in data.get("device_ids", ())),
            )
        except KeyError as exc:
            raise PlacementError(f"{where}: missing field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise PlacementError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Placement:
    """Groups of devices and the models on each; ``meta`` carries how it was made (policy, time)."""

    groups: tuple[GroupPlacement, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)

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

    def summary(self) -> str:
        """Short human text: ``4x(op1,pp2)[3 models] 2x(op2,pp1)[5 models]``."""
        parts = []
        for g in self.groups:
            parts.append(f"(op{g.config.op},pp{g.config.pp})[{len(g.models)}]")
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
        used = [d for ids in out for d in ids]
        if len(used) != len(set(used)):
            raise PlacementError("placement: a device is assigned to two groups")
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
            "version": VERSION,
            "groups": [g.to_dict() for g in self.groups],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "placement") -> "Placement":
        if not isinstance(data, dict) or "groups" not in data:
            raise PlacementError(f"{where}: expected a JSON object with a 'groups' list")
        groups = tuple(
            GroupPlacement.from_dict(g, f"{where} group {i}") for i, g in enumerate(data["groups"])
        )
        return cls(groups=groups, meta=dict(data.get("meta", {})))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Placement":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise PlacementError(f"placement file {str(path)!r} does not exist") from None
        except json.JSONDecodeError as exc:
            raise PlacementError(f"placement file {str(path)!r}: invalid JSON ({exc})") from None
        if isinstance(data, dict) and "segments" in data:
            raise PlacementError(
                f"{path}: this is a time-switched placement schedule; load it with PlacementSchedule.load"
            )
        return cls.from_dict(data, where=str(path))


@dataclass(frozen=True)
class PlacementSchedule:
    """Placements switched at fixed times: ``segments[i]`` is in force from ``start_s[i]`` on."""

    start_s: tuple[float, ...]
    segments: tuple[Placement, ...]

    def __post_init__(self):
        if len(self.start_s) != len(self.segments) or not self.segments:
            raise PlacementError("schedule: need one start time per placement, and at least one")
        if list(self.start_s) != sorted(self.start_s):
            raise PlacementError(f"schedule: start times must be sorted, got {list(self.start_s)}")

    def to_dict(self) -> dict:
        return {
            "format": FORMAT + ".schedule",
            "version": VERSION,
            "segments": [{"start_s": s, "placement": p.to_dict()} for s, p in zip(self.start_s, self.segments)],
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "schedule") -> "PlacementSchedule":
        segs = data.get("segments")
        if not isinstance(segs, list) or not segs:
            raise PlacementError(f"{where}: expected a non-empty 'segments' list")
        return cls(
            start_s=tuple(float(s["start_s"]) for s in segs),
            segments=tuple(Placement.from_dict(s["placement"], f"{where} segment {i}") for i, s in enumerate(segs)),
        )

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PlacementSchedule":
        data = json.loads(Path(path).read_text())
        if "segments" not in data:
            return cls(start_s=(0.0,), segments=(Placement.from_dict(data, str(path)),))
        return cls.from_dict(data, where=str(path))
