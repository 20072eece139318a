"""Per-model profiles: per ParallelConfig and batch size, stage latencies and memory.

These are the plain values the profiling database stores and every other layer reads. A profile
says nothing about where its numbers came from except ``source`` ("analytic", "measured",
"legacy-import", ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.parallel_config import ParallelConfig


class ProfileError(ValueError):
    """A profile is malformed, or the entry asked for is not in it."""


@dataclass(frozen=True)
class ConfigProfile:
    """Measurements of one model under one ParallelConfig.

    ``stage_latency_s[batch]`` has one entry per pipeline stage: the time that stage takes for a
    batch of that size. ``weight_bytes[s]`` is the weight memory of stage ``s`` on each of its
    devices; ``act_bytes[batch][s]`` the peak activation memory of stage ``s`` per device.
    """

    config: ParallelConfig
    stage_latency_s: Mapping[int, tuple[float, ...]]
    weight_bytes: tuple[int, ...]
    act_bytes: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        return tuple(sorted(self.stage_latency_s))

    def latency_s(self, batch_size: int = 1) -> tuple[float, ...]:
        try:
            return self.stage_latency_s[batch_size]
        except KeyError:
            raise ProfileError(
                f"config {self.config}: no latency for batch size {batch_size} "
                f"(profiled: {list(self.batch_sizes)})"
            ) from None

    def total_latency_s(self, batch_size: int = 1) -> float:
        """End-to-end latency of one batch through all stages (no queueing)."""
        return float(sum(self.latency_s(batch_size)))

    def max_stage_latency_s(self, batch_size: int = 1) -> float:
        """The pipeline's bottleneck: one batch can enter every this many seconds."""
        return float(max(self.latency_s(batch_size)))

    def device_memory_bytes(self, batch_size: int = 1) -> int:
        """Peak bytes on the busiest device: weights plus activations of the largest stage."""
        acts = self.act_bytes.get(batch_size, (0,) * len(self.weight_bytes))
        return int(max(w + a for w, a in zip(self.weight_bytes, acts)))

    def validate(self, where: str) -> None:
        """Raise ProfileError naming ``where`` if any stage count or value is wrong."""
        pp = self.config.pp
        if len(self.weight_bytes) != pp:
            raise ProfileError(
                f"{where}: weight_bytes has {len(self.weight_bytes)} stages but pp={pp}"
            )
        if not self.stage_latency_s:
            raise ProfileError(f"{where}: no batch sizes profiled")
        for batch, lat in self.stage_latency_s.items():
            if not isinstance(batch, int) or batch < 1:
                raise ProfileError(f"{where}: batch size {batch!r} is not a positive int")
            if len(lat) != pp:
                raise ProfileError(
                    f"{where} batch {batch}: {len(lat)} stage latencies but pp={pp}"
                )
            _check_values(lat, f"{where} batch {batch} latency")
        for batch, acts in self.act_bytes.items():
            if len(acts) != pp:
                raise ProfileError(
                    f"{where} batch {batch}: {len(acts)} stage activation sizes but pp={pp}"
                )
            _check_values(acts, f"{where} batch {batch} act_bytes")
        _check_values(self.weight_bytes, f"{where} weight_bytes")


def _check_values(values, what: str) -> None:
    for i, value in enumerate(values):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ProfileError(f"{what}[{i}]: expected a number, got {value!r}")
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise ProfileError(f"{what}[{i}]: expected a finite value >= 0, got {value!r}")


@dataclass(frozen=True)
class ModelProfile:
    """Everything the database knows about one model on one device type."""

    name: str
    device: str
    configs: Mapping[ParallelConfig, ConfigProfile]
    spec: ModelSpec | None = None
    """Architecture, when known (the analytic and measured profilers always record it)."""
    source: str = "unknown"

    def config(self, config: ParallelConfig) -> ConfigProfile:
        try:
            return self.configs[config]
        except KeyError:
            known = ", ".join(c.key for c in sorted(self.configs))
            raise ProfileError(
                f"model {self.name!r} on {self.device}: no profile for {config.key} (known: {known})"
            ) from None

    def single_device_latency_s(self, batch_size: int = 1) -> float:
        """Latency on one device, (1,1,1); the base of "SLO = k x latency" experiments."""
        return self.config(ParallelConfig(1, 1, 1)).total_latency_s(batch_size)

    def validate(self) -> None:
        if not self.configs:
            raise ProfileError(f"model {self.name!r} on {self.device}: no parallel configs")
        for config, entry in self.configs.items():
            if entry.config != config:
                raise ProfileError(
                    f"model {self.name!r}: entry filed under {config.key} says {entry.config.key}"
                )
            entry.validate(f"model {self.name!r} on {self.device} {config.key}")
