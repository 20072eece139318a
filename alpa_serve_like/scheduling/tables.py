"""Dense latency tables of one placement: what routing reads instead of profiles.

Rows are *replicas* (one model hosted on one group), sorted by model then group, so the groups
hosting model ``m`` are the rows ``host_ptr[m]:host_ptr[m+1]`` in ascending group order.
``lat_s[r, s, b-1]`` is the profiled latency of stage ``s`` of replica ``r`` for a batch of ``b``.
A batch size between two profiled sizes is interpolated linearly, stage by stage; one below the
smallest profiled size uses that size (padded); beyond the largest profiled size the latency is
``inf`` (such a batch is never formed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.model_profile import ModelProfile, ProfileError


@dataclass(frozen=True, eq=False)
class LatencyTables:
    """Arrays describing one placement for a fixed list of model names."""

    model_names: tuple[str, ...]
    num_stages: np.ndarray  # int64 (G,): pipeline stages of each group
    host_ptr: np.ndarray  # int64 (M+1,): replicas of model m are host_ptr[m]:host_ptr[m+1]
    replica_group: np.ndarray  # int64 (R,)
    replica_model: np.ndarray  # int64 (R,)
    lat_s: np.ndarray  # float64 (R, S_max, B)
    group_compute: np.ndarray | None = None
    """float64 (G,): compute size of each group's device (MIG compute slices), for policies that
    prefer small partitions (ELSA); None means all groups are alike."""

    @property
    def num_groups(self) -> int:
        return len(self.num_stages)

    @property
    def max_batch_size(self) -> int:
        return self.lat_s.shape[2]

    def replicas_of(self, model_id: int) -> range:
        return range(int(self.host_ptr[model_id]), int(self.host_ptr[model_id + 1]))


class StageLatencyCache:
    """(model name, ParallelConfig) -> (pp, B) latency block, so rebuilding tables is cheap."""

    def __init__(self, profiles: Mapping[str, ModelProfile], max_batch_size: int):
        self.profiles = profiles
        self.max_batch_size = max_batch_size
        self._blocks: dict[tuple[str, int, int], np.ndarray] = {}

    def block(self, model: str, op: int, pp: int, group_index: int) -> np.ndarray:
        """Latencies of ``model`` at ParallelConfig(1, op, pp); ``group_index`` is for errors only."""
        found = self._blocks.get((model, op, pp))
        if found is None:
            config = ParallelConfig(1, op, pp)
            found = self._blocks[(model, op, pp)] = self._build(model, config, f"placement group {group_index} {config.key}")
        return found

    def _build(self, model: str, config: ParallelConfig, where: str) -> np.ndarray:
        profile = self.profiles.get(model)
        if profile is None:
            known = ", ".join(sorted(self.profiles)[:20]) or "none"
            raise ProfileError(f"{where} hosts model {model!r}, which has no profile (known: {known})")
        try:
            entry = profile.config(config)
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}") from None
        profiled = entry.batch_sizes
        lat = {}
        for p in profiled:
            lat[p] = np.asarray(entry.latency_s(p), dtype=np.float64)
            if len(lat[p]) != config.pp:
                raise ProfileError(
                    f"{where}: model {model!r} {config.key} batch {p} has {len(lat[p])} stage latencies, "
                    f"expected {config.pp}"
                )
        out = np.full((config.pp, self.max_batch_size), np.inf)
        for b in range(1, min(self.max_batch_size, profiled[-1]) + 1):
            hi = next(p for p in profiled if p >= b)
            lower = [p for p in profiled if p < b]
            if b == hi or not lower:
                out[:, b - 1] = lat[hi]
            else:
                lo = lower[-1]
                out[:, b - 1] = lat[lo] + (lat[hi] - lat[lo]) * ((b - lo) / (hi - lo))
        return out


def apply_time_rules(lat_s: np.ndarray, stages_per_row: Sequence[int], pipeline_comm_factor: float,
                     float32_times: bool) -> np.ndarray:
    """``lat_s[r]`` (a replica of a group with ``stages_per_row[r]`` stages) times
    ``1 + pipeline_comm_factor * stages``, then rounded to float32 under ``float32_times``: the
    latency rules of ``SchedulingOptions``, applied alike to every kind of table."""
    if pipeline_comm_factor and len(stages_per_row):
        lat_s = lat_s * (1.0 + pipeline_comm_factor * np.asarray(stages_per_row, dtype=np.float64))[:, None, None]
    if float32_times:
        lat_s = lat_s.astype(np.float32).astype(np.float64)
    return lat_s


def build_latency_tables(
    placement: Placement,
    model_names: Sequence[str],
    cache: StageLatencyCache,
    pipeline_comm_factor: float = 0.0,
    float32_times: bool = False,
) -> LatencyTables:
    """Tables for ``placement`` over ``model_names`` (hosted models outside that list are skipped:
    no request can name them). Raises ProfileError naming the group, model and config if a
    profile entry is missing. With ``pipeline_comm_factor`` f > 0 every stage latency of a group
    with ``pp`` stages is multiplied by ``1 + f * pp`` (``SchedulingOptions.pipeline_comm_factor``);
    ``float32_times`` then rounds every latency to float32 (``SchedulingOptions.float32_times``)."""
    index = {name: i for i, name in enumerate(model_names)}
    rows = []  # (model id, group, block)
    for g, group in enumerate(placement.groups):
        op, pp = group.config.op, group.config.pp
        for name in group.models:
            mid = index.get(name)
            if mid is not None:
                rows.append((mid, g, cache.block(name, op, pp, g)))
    rows.sort(key=lambda row: (row[0], row[1]))
    num_stages = np.array([g.config.pp for g in placement.groups], dtype=np.int64)
    max_stages = int(num_stages.max()) if len(num_stages) else 1
    lat = np.zeros((len(rows), max_stages, cache.max_batch_size))
    for r, (_, _, block) in enumerate(rows):
        lat[r, : block.shape[0], :] = block
    lat = apply_time_rules(lat, [block.shape[0] for _, _, block in rows], pipeline_comm_factor, float32_times)
    replica_model = np.array([row[0] for row in rows], dtype=np.int64)
    host_ptr = np.zeros(len(model_names) + 1, dtype=np.int64)
    np.cumsum(np.bincount(replica_model, minlength=len(model_names)), out=host_ptr[1:])
    return LatencyTables(
        model_names=tuple(model_names),
        num_stages=num_stages,
        host_ptr=host_ptr,
        replica_group=np.array([row[1] for row in rows], dtype=np.int64),
        replica_model=replica_model,
        lat_s=lat,
    )
