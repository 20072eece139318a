"""Turn a ModelSpec and a DeviceSpec into a ModelProfile with the analytic cost model."""
from __future__ import annotations

from typing import Iterable, Sequence

from alpa_serve_like.core.hardware import DeviceSpec, get_device
from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.cost_model.latency import stage_bounds, stage_latencies_s
from alpa_serve_like.cost_model.memory import stage_act_bytes, stage_weight_bytes
from alpa_serve_like.cost_model.params import CostModelParams, get_params

DEFAULT_OPS: tuple[int, ...] = (1, 2, 4, 8)
DEFAULT_PPS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16)
SOURCE = "analytic"


def supported_configs(spec: ModelSpec, ops: Iterable[int] = DEFAULT_OPS,
                      pps: Iterable[int] = DEFAULT_PPS) -> list[ParallelConfig]:
    """The (dp=1, op, pp) configs the model can be cut into: every stage needs a layer, every
    device a whole number of attention heads (and of experts, for MoE)."""
    configs = []
    for op in sorted(set(ops)):
        if spec.num_heads % op or (spec.family == "moe" and spec.num_experts % op):
            continue
        for pp in sorted(set(pps)):
            if pp <= spec.num_layers:
                configs.append(ParallelConfig(1, op, pp))
    return configs


def build_config_profile(spec: ModelSpec, device: DeviceSpec, params: CostModelParams,
                         config: ParallelConfig, batch_sizes: Sequence[int]) -> ConfigProfile:
    bounds = stage_bounds(spec, config.pp)
    return ConfigProfile(
        config=config,
        stage_latency_s={
            b: stage_latencies_s(spec, device, params, config.op, config.pp, b, bounds)
            for b in batch_sizes
        },
        weight_bytes=stage_weight_bytes(spec, bounds, config.op),
        act_bytes={b: stage_act_bytes(spec, bounds, config.op, b) for b in batch_sizes},
    )


def build_profile(spec: ModelSpec, device: DeviceSpec | str, params: CostModelParams | None = None,
                  configs: Sequence[ParallelConfig] | None = None,
                  batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES) -> ModelProfile:
    """Analytic profile of ``spec`` on ``device`` for ``configs`` (default: ``supported_configs``)."""
    device = get_device(device) if isinstance(device, str) else device
    params = params or get_params(device.name)
    configs = list(configs) if configs is not None else supported_configs(spec)
    if not configs:
        raise ValueError(f"model {spec.name!r}: no parallel config to profile")
    for config in configs:
        if config.dp != 1:
            raise ValueError(f"model {spec.name!r}: profiles are per replica, use dp=1 (got {config.key})")
    batch_sizes = sorted(set(batch_sizes))
    return ModelProfile(
        name=spec.name,
        device=device.name,
        configs={c: build_config_profile(spec, device, params, c, batch_sizes) for c in configs},
        spec=spec,
        source=SOURCE,
    )
