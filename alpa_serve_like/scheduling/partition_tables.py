"""Latency tables for single-stage groups on devices of different sizes (MIG partitions).

``build_latency_tables`` reads one latency per (model, ParallelConfig), the same on every group; a
heterogeneous set of partitions needs a latency per (model, group) instead. This builder takes those
directly, already dense, and records each group's compute size for size-aware routing (ELSA).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from alpa_serve_like.scheduling.tables import LatencyTables


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
