"""Latency tables for groups on devices of different types or sizes (MIG partitions, mixed GPUs).

``build_latency_tables`` reads one latency per (model, ParallelConfig), the same on every group; a
heterogeneous cluster needs a latency per (model, group) instead. ``build_partition_tables`` takes
those directly for single-stage groups; ``tables_from_device_profiles`` reads them from each group's
device-type profiles, any ParallelConfig. Both record each group's compute size for size-aware
routing (ELSA).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.scheduling.tables import LatencyTables, StageLatencyCache, apply_time_rules


def build_partition_tables(model_names: Sequence[str], group_compute: Sequence[float],
                           latency_s: np.ndarray) -> LatencyTables:
    """Tables for groups of one stage each.

    ``latency_s[m, g, b-1]`` is the latency of model ``m`` on group ``g`` for a batch of ``b``;
    ``nan`` marks a model the group does not host (``inf`` a batch size it never forms).
    """
    lat = np.asarray(latency_s, dtype=np.float64)
    m_count, g_count = len(model_names), len(group_compute)
    if lat.ndim != 3 or lat.shape[:2] != (m_count, g_count):
        raise ValueError(f"partition tables: latency_s must have shape ({m_count}, {g_count}, batches), "
                         f"got {lat.shape}")
    hosted = ~np.isnan(lat[:, :, 0])
    model_of, group_of = np.nonzero(hosted)  # row-major: sorted by model, then group
    host_ptr = np.zeros(m_count + 1, dtype=np.int64)
    np.cumsum(hosted.sum(axis=1), out=host_ptr[1:])
    return LatencyTables(
        model_names=tuple(model_names),
        num_stages=np.ones(g_count, dtype=np.int64),
        host_ptr=host_ptr,
        replica_group=group_of.astype(np.int64),
        replica_model=model_of.astype(np.int64),
        lat_s=lat[model_of, group_of][:, None, :].copy(),
        group_compute=np.asarray(group_compute, dtype=np.float64),
    )


def tables_from_device_profiles(
    model_names: Sequence[str],
    group_devices: Sequence[str],
    group_models: Sequence[Sequence[str]],
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    max_batch_size: int,
    group_compute: Sequence[float] | None = None,
    group_configs: Sequence[ParallelConfig] | None = None,
    pipeline_comm_factor: float = 0.0,
    float32_times: bool = False,
) -> LatencyTables:
    """Tables for groups on devices of mixed types: group ``g`` runs ``group_configs[g]`` (default
    ParallelConfig(1, 1, 1): one device) on devices of type ``group_devices[g]`` and hosts
    ``group_models[g]``, with latencies from that type's profiles (batch sizes interpolated as in
    ``build_latency_tables``). ``profiles_by_device`` is what ``ProfilingDatabase.for_device``
    returns, per device type; ``group_compute`` defaults to 1 per group. ``pipeline_comm_factor`` and
    ``float32_times`` apply as in ``build_latency_tables``."""
    n_groups = len(group_devices)
    configs = list(group_configs) if group_configs is not None else [ParallelConfig(1, 1, 1)] * n_groups
    if not len(group_models) == len(configs) == n_groups:
        raise ValueError(f"{n_groups} group devices, {len(group_models)} model lists and {len(configs)} "
                         f"configs: give one of each per group")
    caches: dict[str, StageLatencyCache] = {}
    index = {name: i for i, name in enumerate(model_names)}
    rows = []  # (model id, group, (pp, B) block)
    for g, (device, models, config) in enumerate(zip(group_devices, group_models, configs)):
        if device not in profiles_by_device:
            raise KeyError(f"group {g} runs on {device!r}, which has no profiles "
                           f"(devices: {', '.join(sorted(profiles_by_device))})")
        cache = caches.setdefault(device, StageLatencyCache(profiles_by_device[device], max_batch_size))
        for name in models:
            if name in index:
                rows.append((index[name], g, cache.block(name, config.op, config.pp, g)))
    rows.sort(key=lambda row: (row[0], row[1]))
    num_stages = np.array([c.pp for c in configs], dtype=np.int64)
    lat = np.zeros((len(rows), int(num_stages.max()) if n_groups else 1, max_batch_size))
    for r, (_, _, block) in enumerate(rows):
        lat[r, : block.shape[0]] = block
    lat = apply_time_rules(lat, [block.shape[0] for _, _, block in rows], pipeline_comm_factor, float32_times)
    replica_model = np.array([row[0] for row in rows], dtype=np.int64)
    host_ptr = np.zeros(len(model_names) + 1, dtype=np.int64)
    np.cumsum(np.bincount(replica_model, minlength=len(model_names)), out=host_ptr[1:])
    compute = [1.0] * n_groups if group_compute is None else group_compute
    return LatencyTables(
        model_names=tuple(model_names), num_stages=num_stages, host_ptr=host_ptr,
        replica_group=np.array([row[1] for row in rows], dtype=np.int64), replica_model=replica_model,
        lat_s=lat, group_compute=np.asarray(compute, dtype=np.float64),
    )
