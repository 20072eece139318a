"""Builders of tiny profiles, databases, placements and workloads shared by all tests."""
from __future__ import annotations

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig


def make_profile(
    name: str = "m0",
    device: str = "test-gpu",
    stage_latency_s: dict | None = None,
    weight_bytes: int = 1_000,
    batch_sizes=(1, 2, 4),
) -> ModelProfile:
    """A profile whose (1,1,pp) configs split ``1.0 * batch`` seconds evenly over pp stages.

    ``stage_latency_s`` may map ParallelConfig -> {batch: [per-stage seconds]} to override.
    """
    configs = {}
    for pp in (1, 2, 4):
        cfg = ParallelConfig(1, 1, pp)
        lat = {b: tuple([1.0 * b / pp] * pp) for b in batch_sizes}
        if stage_latency_s and cfg in stage_latency_s:
            lat = {b: tuple(v) for b, v in stage_latency_s[cfg].items()}
        configs[cfg] = ConfigProfile(
            config=cfg,
            stage_latency_s=lat,
            weight_bytes=tuple([weight_bytes // pp] * pp),
            act_bytes={b: tuple([10 * b] * pp) for b in lat},
        )
    return ModelProfile(name=name, device=device, configs=configs, source="test")
