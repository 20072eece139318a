"""Latency tables for single-stage groups on devices of different sizes (MIG partitions).

``build_latency_tables`` reads one latency per (model, ParallelConfig), the same on every group; a
heterogeneous set of partitions needs a latency per (model, group) instead. This builder takes those
directly, already dense, and records each group's compute size for size-aware routing (ELSA).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.scheduling.tables import LatencyTables, StageLatencyCache


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
) -> LatencyTables:
    """Tables for single-device groups of mixed types: group ``g`` on ``group_devices[g]`` hosts
    ``group_models[g]``, with latencies from that device's profiles (ParallelConfig(1, 1, 1), batch
    sizes interpolated as in ``build_latency_tables``). ``profiles_by_device`` is what
    ``ProfilingDatabase.for_device`` returns, per device type."""
    if len(group_devices) != len(group_models):
        raise ValueError(f"{len(group_devices)} group devices for {len(group_models)} groups")
    caches = {}
    lat = np.full((len(model_names), len(group_devices), max_batch_size), np.nan)
    index = {name: i for i, name in enumerate(model_names)}
    for g, (device, models) in enumerate(zip(group_devices, group_models)):
        if device not in profiles_by_device:
            raise KeyError(f"group {g} runs on {device!r}, which has no profiles "
                           f"(devices: {', '.join(sorted(profiles_by_device))})")
        cache = caches.setdefault(device, StageLatencyCache(profiles_by_device[device], max_batch_size))
        for name in models:
            if name in index:
                lat[index[name], g] = cache.block(name, 1, 1, g)[0]
    compute = [1.0] * len(group_devices) if group_compute is None else group_compute
    return build_partition_tables(model_names, compute, lat)
