"""SLOs: per-model latency targets from a scale, from milliseconds, and as a plan records them.

AlpaServe states SLOs as a multiple ("SLO scale") of each model's latency on one device at batch 1;
the placement commands, the runtime's auto-placement, the artifact suites and the workload
generator all derive them here, so a placement and its test workload agree on every model's SLO.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig

SINGLE_DEVICE = ParallelConfig(1, 1, 1)


def single_device_latency_s(profile: ModelProfile) -> float:
    """Batch-1 latency on one device; a model too big for one device uses its fastest profiled
    config at its smallest batch (the latency it can reach at all)."""
    entry = profile.configs.get(SINGLE_DEVICE)
    if entry is not None:
        return float(entry.total_latency_s(1))
    if not profile.configs:
        raise ValueError(f"model {profile.name!r} on {profile.device}: no profiled config to derive an SLO from")
    return float(min(e.total_latency_s(min(e.batch_sizes)) for e in profile.configs.values()))


def slo_from_scale(models: Sequence[str], profiles: Mapping[str, ModelProfile], scale: float) -> np.ndarray:
    """SLO of each model in seconds: ``scale`` x its single-device latency."""
    if not scale > 0:
        raise ValueError(f"SLO scale must be > 0, got {scale!r}")
    missing = [m for m in models if m not in profiles]
    if missing:
        raise ValueError(f"no profile for {', '.join(missing[:5])} to derive its SLO from (scale {scale:g})")
    return np.asarray([scale * single_device_latency_s(profiles[m]) for m in models], dtype=np.float64)


def slo_from_ms(text: str) -> float | dict[str, float]:
    """The command-line SLO in milliseconds, as seconds: ``"100"`` -> 0.1; ``"a=50,b=200"`` -> a dict."""
    try:
        if "=" not in text:
            return float(text) / 1e3
        return {k.strip(): float(v) / 1e3 for k, v in (item.split("=", 1) for item in text.split(",") if item)}
    except ValueError:
        raise ValueError(f"SLO {text!r}: expected milliseconds, one number or MODEL=MS,...") from None


def plan_slo_record(models: Sequence[str], slo_s: np.ndarray, scale: float | None) -> dict:
    """What a plan records about the SLO it was optimised for: the scale when there was one (the
    per-model seconds follow from it and the database), else every model's seconds."""
    if scale is not None:
        return {"scale": float(scale)}
    return {"per_model_s": {m: float(s) for m, s in zip(models, np.asarray(slo_s, dtype=np.float64))}}
