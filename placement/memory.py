"""The memory constraint of a placement: what a group of devices can hold.

A group with config (op, pp) holds every hosted model split into the same ``pp`` stages. Device
memory of stage ``s`` = the sum over hosted models of their stage-``s`` weights (weights stay
resident) plus the largest stage-``s`` activation among them at the largest batch the group runs
(a stage executes one batch at a time, so activations are reserved once, not once per model).
A group fits when every stage is within the cluster's per-device ``memory_budget_bytes``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import PlacementError
from alpa_serve_like.core.model_profile import ModelProfile


class PlacementInfeasibleError(PlacementError):
    """No placement can satisfy the inputs (a model fits nowhere, too few devices, ...)."""


@dataclass(frozen=True)
class StageMemory:
    """Per-stage, per-device bytes of one model under one config."""

    weight_bytes: np.ndarray  # int64, one per stage
    act_bytes: np.ndarray  # int64, one per stage, at the largest batch

    @property
    def alone_bytes(self) -> int:
        """Busiest device's bytes when the model is alone in its group."""
        return int((self.weight_bytes + self.act_bytes).max())


def _act_batch(batches: Iterable[int], max_batch_size: int) -> int | None:
    batches = sorted(batches)
    if not batches:
        return None
    fitting = [b for b in batches if b <= max_batch_size]
    return fitting[-1] if fitting else batches[0]


class MemoryModel:
    """Answers "does this set of models fit a group with this config?" from the profiles.

    Stage tables are computed once per (profile, config) and cached, so the greedy fills in the
    optimizer call it in their inner loops.
    """

    def __init__(self, profiles: Mapping[str, ModelProfile], budget_bytes: int, max_batch_size: int = 1):
        if budget_bytes <= 0:
            raise ValueError(f"memory budget must be > 0 bytes, got {budget_bytes}")
        self.profiles = profiles
        self.budget_bytes = int(budget_bytes)
        self.max_batch_size = int(max_batch_size)
        self._cache: dict[tuple[str, ParallelConfig], StageMemory | None] = {}
        self._alone: dict[tuple[str, ParallelConfig], int | None] = {}

    def stage_memory(self, model: str, config: ParallelConfig) -> StageMemory | None:
        """The model's per-stage bytes under ``config``; None when the config is not profiled."""
        key = (model, config)
        if key not in self._cache:
            profile = self.profiles[model]
            entry = profile.configs.get(config)
            if entry is None:
                self._cache[key] = None
            else:
                weights = np.asarray(entry.weight_bytes, dtype=np.int64)
                batch = _act_batch(entry.act_bytes, self.max_batch_size)
                acts = (np.asarray(entry.act_bytes[batch], dtype=np.int64) if batch is not None
                        else np.zeros_like(weights))
                self._cache[key] = StageMemory(weights, acts)
        return self._cache[key]

    def alone_bytes(self, model: str, config: ParallelConfig) -> int | None:
        key = (model, config)
        found = self._alone.get(key, -1)
        if found == -1:  # cached: the searches ask this in their inner loops
            mem = self.stage_memory(model, config)
            found = self._alone[key] = None if mem is None else mem.alone_bytes
        return found

    def fits_alone(self, model: str, config: ParallelConfig) -> bool:
        need = self.alone_bytes(model, config)
        return need is not None and need <= self.budget_bytes

    def group_bytes(self, config: ParallelConfig, models: Sequence[str]) -> int:
        """Busiest device's bytes of a group hosting ``models`` (raises if a config is missing)."""
        usage = GroupUsage(config.pp)
        for m in models:
            mem = self.stage_memory(m, config)
            if mem is None:
                raise PlacementError(f"model {m!r} has no profile for {config.key}")
            usage.add(mem)
        return usage.peak_bytes

    def fits(self, config: ParallelConfig, models: Sequence[str]) -> bool:
        try:
            return self.group_bytes(config, models) <= self.budget_bytes
        except PlacementError:
            return False

    def check_placement(self, placement) -> None:
        """Raise PlacementError naming the first group that is over budget."""
        for i, group in enumerate(placement.groups):
            need = self.group_bytes(group.config, group.models)
            if need > self.budget_bytes:
                raise PlacementError(
                    f"group {i} {group.config.key} needs {need / GiB:.2f} GiB per device for "
                    f"{len(group.models)} models but the budget is {self.budget_bytes / GiB:.2f} GiB"
                )


class GroupUsage:
    """Running per-stage memory of one group while a greedy fill adds models to it."""

    __slots__ = ("weight_bytes", "act_bytes")

    def __init__(self, num_stages: int):
        self.weight_bytes = np.zeros(num_stages, dtype=np.int64)
        self.act_bytes = np.zeros(num_stages, dtype=np.int64)

    def copy(self) -> "GroupUsage":
        out = GroupUsage(len(self.weight_bytes))
        out.weight_bytes[:] = self.weight_bytes
        out.act_bytes[:] = self.act_bytes
        return out

    @property
    def peak_bytes(self) -> int:
        return int((self.weight_bytes + self.act_bytes).max()) if len(self.weight_bytes) else 0

    def bytes_with(self, mem: StageMemory) -> int:
        """Peak bytes if ``mem`` were added (without adding it)."""
        return int((self.weight_bytes + mem.weight_bytes + np.maximum(self.act_bytes, mem.act_bytes)).max())

    def add(self, mem: StageMemory) -> None:
        self.weight_bytes += mem.weight_bytes
        np.maximum(self.act_bytes, mem.act_bytes, out=self.act_bytes)


def smallest_need(memory: MemoryModel, model: str, configs: Iterable[ParallelConfig]) -> tuple[int, ParallelConfig] | None:
    """The least per-device bytes ``model`` needs alone over ``configs``, and that config (None: no
    config is profiled)."""
    known = {c: memory.alone_bytes(model, c) for c in sorted(set(configs))}
    known = {c: n for c, n in known.items() if n is not None}
    if not known:
        return None
    best = min(known, key=known.get)
    return known[best], best


def models_that_fit_nowhere(memory: MemoryModel, models: Sequence[str], configs: Iterable[ParallelConfig]) -> list[str]:
    """The models of ``models`` that fit none of ``configs`` even alone, in order."""
    configs = sorted(set(configs))
    out = []
    for m in models:
        need = smallest_need(memory, m, configs)
        if need is None or need[0] > memory.budget_bytes:
            out.append(m)
    return out


def check_models_fit(memory: MemoryModel, models: Sequence[str], configs: Iterable[ParallelConfig]) -> None:
    """Raise PlacementInfeasibleError if some model fits none of ``configs`` even alone.

    The message names the model, the least memory it needs over the configs it is profiled for,
    and the budget, so the user can raise the budget or allow more devices per group.
    """
    configs = sorted(set(configs))
    for m in models_that_fit_nowhere(memory, models, configs):
        need = smallest_need(memory, m, configs)
        if need is None:
            shown = ", ".join(c.key for c in configs)
            raise PlacementInfeasibleError(
                f"model {m!r} has no profile for any group config this policy can use ({shown}); "
                f"profile it for those configs or choose another policy"
            )
        raise PlacementInfeasibleError(
            f"model {m!r} fits no group: it needs at least {need[0] / GiB:.2f} GiB per device "
            f"(with {need[1].key}) but the memory budget is {memory.budget_bytes / GiB:.2f} GiB; raise "
            f"--memory-budget-gib, allow larger groups, or drop the model"
        )


def check_plan_fits_device(plan, profiles: Mapping[str, ModelProfile], device: str, budget_bytes: int,
                           max_batch_size: int = 1) -> None:
    """Raise PlacementError if a group of ``plan`` (a Placement or PlacementSchedule) exceeds
    ``budget_bytes`` per device with ``device``'s profiles; the message names the group, its largest
    model and the bytes. Used when a plan made for one device type is run on another. A group that
    names another device type is refused: check such plans with ``check_plan_memory``."""
    for segment in getattr(plan, "segments", (plan,)):
        for g, group in enumerate(segment.groups):
            if group.device is not None and group.device != device:
                raise PlacementError(f"placement group {g} runs on {group.device}, not {device}: check a plan "
                                     f"of several device types with check_plan_memory")
    check_plan_memory(plan, lambda _: profiles, lambda _: budget_bytes, max_batch_size, device)


def check_plan_memory(plan, profiles_of: Callable[[str], Mapping[str, ModelProfile]],
                      budget_of: Callable[[str], int], max_batch_size: int = 1,
                      default_device: str | None = None) -> None:
    """Raise PlacementError if a group of ``plan`` (a Placement or PlacementSchedule) exceeds its own
    device type's budget: the group's ``device``, else ``default_device`` (the plan's), with that
    type's profiles (``profiles_of(type)``) and per-device budget in bytes (``budget_of(type)``). The
    message names the group, its device type, the largest model, the bytes and the budget."""
    memories: dict[str, MemoryModel] = {}
    segments = getattr(plan, "segments", (plan,))
    for s, segment in enumerate(segments):
        for g, group in enumerate(segment.groups):
            device = group.device or default_device
            where = f"group {g}" if len(segments) == 1 else f"segment {s} group {g}"
            if device is None:
                raise PlacementError(f"placement {where} names no device type and none is given for the plan; "
                                     f"give the group a 'device' or the plan a 'device'")
            if device not in memories:
                memories[device] = MemoryModel(profiles_of(device), budget_of(device), max_batch_size)
            _check_group(memories[device], group, where, device)


def _check_group(memory: MemoryModel, group, where: str, device: str) -> None:
    for m in group.models:
        if memory.stage_memory(m, group.config) is None:
            raise PlacementError(
                f"placement {where} ({group.config.key}): model {m!r} has no profile for that config "
                f"on {device}; profile it there or run on the plan's device"
            )
    need, budget = memory.group_bytes(group.config, group.models), memory.budget_bytes
    if need > budget:
        largest = max(group.models, key=lambda m: memory.alone_bytes(m, group.config))
        raise PlacementError(
            f"placement {where} ({group.config.key}) does not fit on {device}: it needs {need:,} bytes "
            f"({need / GiB:.2f} GiB) per device but the budget is {budget:,} bytes "
            f"({budget / GiB:.2f} GiB); its largest model {largest!r} alone needs "
            f"{memory.alone_bytes(largest, group.config):,} bytes. Place again for {device} "
            f"('alpa-serve-like place --device {device}') or run on the plan's device"
        )
