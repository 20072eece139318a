"""PARIS: split MIG GPUs into a heterogeneous set of partitions sized to the traffic's batch sizes.

After Kim, Choi and Rhu, "PARIS and ELSA: An Elastic Scheduling Algorithm for Reconfigurable
Multi-GPU Inference Servers" (DAC 2022), as its steps are publicly described; the paper's exact
constants are not published, so they are fields of ``ParisConstants``:

1. For each partition size ``k`` (compute slices), utilisation at batch ``b`` is its throughput
   ``b / latency(k, b)`` over its best throughput at any batch up to the largest one in the traffic.
   ``MaxBatch_k`` is the smallest batch whose utilisation reaches ``utilisation_threshold`` (made
   non-decreasing in ``k``; the largest size takes every batch above the others).
2. Size ``k`` serves the batches in ``(MaxBatch_{k-1}, MaxBatch_k]``; its share is
   ``r_k = sum of freq(b) * latency(k, b)`` over those batches (the busy time it needs: a query's
   throughput on it is ``1 / latency``).
3. Target counts ``n_k`` are proportional to ``r_k`` and fill the cluster: ``sum k * n_k = 7 * N``.
4. The GPUs get valid MIG geometries (``core.mig``) whose summed counts are closest to the targets
   in compute slices, ``sum_k k * |n_k - count_k|``: exhaustively over multisets of geometries for
   small clusters, greedily GPU by GPU otherwise.
"""
from __future__ import annotations

import itertools
from collections import Counter
from math import comb
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from alpa_serve_like.core import mig
from alpa_serve_like.core.mixed_cluster import DeviceEntry, MixedCluster
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlanContext


@dataclass(frozen=True)
class ParisConstants:
    """PARIS's knobs (not given in the paper; these are the public reimplementation's)."""

    utilisation_threshold: float = 0.8
    """A size is "full" at the smallest batch reaching this fraction of its best throughput."""
    sizes: tuple[int, ...] = (1, 2, 3, 7)
    """Partition sizes (compute slices) PARIS may use; the MIGPerf-measured ones by default."""
    exhaustive_limit: int = 50_000
    """Largest number of geometry multisets searched exhaustively before packing greedily."""

    def __post_init__(self):
        if not 0.0 < self.utilisation_threshold <= 1.0:
            raise ValueError(f"utilisation_threshold must be in (0, 1], got {self.utilisation_threshold!r}")
        bad = [k for k in self.sizes if k not in mig.PLACEMENT_RULES]
        if bad or not self.sizes:
            raise ValueError(f"sizes {self.sizes!r}: each must be a MIG size {sorted(mig.PLACEMENT_RULES)}")


@dataclass(frozen=True)
class PartitionPlan:
    """What PARIS decided, step by step, and the resulting geometry of each GPU."""

    gpu: str
    max_batch: tuple[tuple[int, int], ...]
    """(size, MaxBatch_size) in ascending size."""
    shares: tuple[tuple[int, float], ...]
    """(size, r_size)."""
    target_counts: tuple[tuple[int, float], ...]
    """(size, n_size): the fractional number of partitions wanted."""
    geometries: tuple[tuple[int, ...], ...]
    """Per GPU, its instance sizes (descending)."""

    @property
    def partitions(self) -> tuple[int, ...]:
        """Every partition's size, ascending (the order ELSA visits them in)."""
        return tuple(sorted(k for g in self.geometries for k in g))

    @property
    def device_names(self) -> tuple[str, ...]:
        """Device-type name of each partition, in ``partitions`` order."""
        return tuple(mig.profile_by_slices(self.gpu, k).device_name for k in self.partitions)

    def placements(self) -> tuple[tuple[mig.Instance, ...], ...]:
        """Per GPU, a valid placement (compute slices, memory-slice start) of its instances."""
        return tuple(mig.place_geometry(g) for g in self.geometries)

    def to_cluster(self, gpus_per_node: int = 8) -> MixedCluster:
        """The partitions as a mixed cluster: per GPU, one entry per profile, GPU ``i`` on node ``i // gpus_per_node``."""
        entries = []
        for i, geometry in enumerate(self.geometries):
            for k in sorted(set(geometry)):
                name = mig.profile_by_slices(self.gpu, k).device_name
                entries.append(DeviceEntry(name, geometry.count(k), node=i // gpus_per_node))
        return MixedCluster(tuple(entries))

    def to_placement(self, models: Sequence[str]) -> Placement:
        """The partitions as a plan: one single-device group per partition, in ``partitions`` order
        (device ids 0, 1, ...), naming its slice's device type and hosting ``models``; what
        ``simulate_plan`` and the runtime take (ELSA orders the groups by their slices)."""
        one = ParallelConfig(1, 1, 1)
        groups = tuple(GroupPlacement(one, tuple(models), (i,), device=name) for i, name in enumerate(self.device_names))
        return Placement(groups, meta={"policy": "paris", "geometries": [list(g) for g in self.geometries]},
                         context=PlanContext(device=self.gpu))

    def summary(self) -> str:
        return " | ".join("+".join(f"{k}g" for k in g) for g in self.geometries)


def batch_ranges(latency_s: Callable[[int, int], float], largest_batch: int,
                 constants: ParisConstants = ParisConstants()) -> dict[int, int]:
    """Step 1: MaxBatch per size (ascending sizes; the largest size's is ``largest_batch``)."""
    sizes = sorted(constants.sizes)
    out, floor = {}, 1
    for k in sizes:
        tput = [b / latency_s(k, b) for b in range(1, largest_batch + 1)]
        best = max(tput)
        full = next(b for b, t in enumerate(tput, start=1) if t >= constants.utilisation_threshold * best)
        floor = out[k] = max(full, floor)
    out[sizes[-1]] = largest_batch
    return out


def paris_plan(latency_s: Callable[[int, int], float], batch_freq: Mapping[int, float], num_gpus: int,
               gpu: str = "a100-80gb", constants: ParisConstants = ParisConstants()) -> PartitionPlan:
    """Partition ``num_gpus`` GPUs for traffic whose queries have batch sizes distributed as ``batch_freq``.

    ``latency_s(k, b)`` is the latency of a batch of ``b`` on a partition of ``k`` compute slices;
    ``batch_freq`` maps batch size to its (relative) frequency.
    """
    if num_gpus < 1:
        raise ValueError(f"paris_plan: num_gpus must be >= 1, got {num_gpus}")
    freq = {int(b): float(f) for b, f in batch_freq.items() if f > 0}
    if not freq or min(freq) < 1:
        raise ValueError(f"paris_plan: batch_freq needs positive frequencies of batch sizes >= 1, got {dict(batch_freq)}")
    mig.profiles(gpu)  # fails early for a GPU without MIG
    sizes = sorted(constants.sizes)
    max_batch = batch_ranges(latency_s, max(freq), constants)
    shares, lower = {}, 0
    for k in sizes:
        shares[k] = sum(f * latency_s(k, b) for b, f in freq.items() if lower < b <= max_batch[k])
        lower = max_batch[k]
    scale = mig.COMPUTE_SLICES * num_gpus / sum(k * r for k, r in shares.items())
    targets = {k: r * scale for k, r in shares.items()}
    geometries = pack_geometries(targets, num_gpus, constants)
    return PartitionPlan(
        gpu=gpu,
        max_batch=tuple(max_batch.items()),
        shares=tuple(shares.items()),
        target_counts=tuple(targets.items()),
        geometries=geometries,
    )


def _distance(targets: Mapping[int, float], counts: Counter) -> float:
    keys = set(targets) | set(counts)
    return sum(k * abs(targets.get(k, 0.0) - counts.get(k, 0)) for k in keys)


def pack_geometries(targets: Mapping[int, float], num_gpus: int,
                    constants: ParisConstants = ParisConstants()) -> tuple[tuple[int, ...], ...]:
    """Step 4: one geometry per GPU whose summed counts are closest to ``targets`` (ties: first found)."""
    geos = list(mig.geometries_of_sizes(tuple(constants.sizes)))
    n_multisets = comb(len(geos) + num_gpus - 1, num_gpus)
    if n_multisets <= constants.exhaustive_limit:
        best, best_d = None, float("inf")
        for combo in itertools.combinations_with_replacement(geos, num_gpus):
            d = _distance(targets, Counter(k for g in combo for k in g))
            if d < best_d - 1e-12:
                best, best_d = combo, d
        return tuple(best)
    chosen: list[tuple[int, ...]] = []
    counts: Counter = Counter()
    for _ in range(num_gpus):
        g = min(geos, key=lambda g: _distance(targets, counts + Counter(g)))
        chosen.append(g)
        counts += Counter(g)
    return tuple(sorted(chosen, reverse=True))

