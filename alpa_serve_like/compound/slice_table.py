"""Per-(task, variant, slice type, MPS level) latency and throughput: the optimizer's only input
about hardware, and the valid ways to cut one GPU into MIG slices.

A *slice type* is a MIG instance of ``k`` of a GPU's 7 compute slices (k in 1, 2, 3, 4, 7; 7 is the
whole GPU). An *MPS level* ``m`` (1..4) runs ``m`` copies of the model on one slice under NVIDIA
MPS, sharing its compute. One *instance* is one slice at one MPS level running one variant.

Slice scaling (ours, a documented placeholder until the calibrated MIG model of the partitions
work is merged; ``SliceScaling`` is the one place to swap it):

* latency on a ``k``-slice instance: ``L_k = L_gpu * (7 / k) ** compute_exponent``, where ``L_gpu``
  is the database's batch-1 latency of the variant's model on the whole GPU, config (1, 1, 1).
  An exponent below 1 says small models do not use a whole GPU well (the reason MIG helps them);
* MPS level ``m``: each copy's latency is ``L_k * m ** mps_exponent`` and the instance completes
  ``m / (L_k * m ** mps_exponent)`` requests per second;
* memory: slice ``k`` gets ``memory_slices(k) / 8`` of the device memory (MIG memory slices);
  ``m`` copies must fit, each needing the database's peak batch-1 device memory.

``option_table`` evaluates this once per option; the optimizer reads only the resulting rows, so
a table built by hand (tests) or from a measured model works the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.core.hardware import get_device
from alpa_serve_like.core.parallel_config import ParallelConfig

COMPUTE_SLICES_PER_GPU = 7
MEMORY_SLICES_PER_GPU = 8

# MIG placement rules (NVIDIA MIG user guide, A100 "supported profiles" table; H100 has the same
# shape): compute slices -> (allowed memory-slice start offsets, memory slices taken).
MIG_RULES: dict[int, tuple[tuple[int, ...], int]] = {
    1: ((0, 1, 2, 3, 4, 5, 6), 1),
    2: ((0, 2, 4), 2),
    3: ((0, 4), 4),
    4: ((0,), 4),
    7: ((0,), 8),
}
SLICE_TYPES: tuple[int, ...] = tuple(sorted(MIG_RULES))
MPS_LEVELS: tuple[int, ...] = (1, 2, 3, 4)
WHOLE_GPU = COMPUTE_SLICES_PER_GPU


@dataclass(frozen=True)
class SliceScaling:
    """How latency scales with slice size and MPS level (see the module docstring; ours)."""

    compute_exponent: float = 0.8
    mps_exponent: float = 0.7

    def latency_s(self, gpu_latency_s: float, compute_slices: int, mps: int) -> float:
        return gpu_latency_s * (WHOLE_GPU / compute_slices) ** self.compute_exponent * mps ** self.mps_exponent


@dataclass(frozen=True, order=True)
class SliceOption:
    """One way to run task ``task`` (index) with variant ``variant`` (index into its variants)."""

    task: int
    variant: int
    compute_slices: int
    mps: int
    latency_s: float
    """Latency of one invocation on this instance (no queueing)."""
    throughput_rps: float
    """Invocations per second one instance completes at full load."""


def option_table(
    app: CompoundApp,
    db,
    device: str = "a100-80gb",
    scaling: SliceScaling = SliceScaling(),
    slice_types: tuple[int, ...] = SLICE_TYPES,
    mps_levels: tuple[int, ...] = MPS_LEVELS,
) -> tuple[SliceOption, ...]:
    """Every (task, variant, slice type, MPS level) whose copies fit the slice's memory.

    ``db`` is a ``ProfilingDatabase``; each variant's model must be profiled on ``device`` with
    config (1, 1, 1) at batch 1 (the error names the model and how to profile it).
    """
    spec = get_device(device)
    rows = []
    for ti, task in enumerate(app.tasks):
        for vi, variant in enumerate(task.variants):
            profile = db.get(variant.model, device)
            entry = profile.config(ParallelConfig(1, 1, 1))
            gpu_latency_s = entry.total_latency_s(1)
            need_bytes = entry.device_memory_bytes(1)
            for k in slice_types:
                if k not in MIG_RULES:
                    raise ValueError(f"slice type {k} is not a MIG size; use one of {SLICE_TYPES}")
                slice_bytes = spec.memory_bytes * MIG_RULES[k][1] // MEMORY_SLICES_PER_GPU
                for m in mps_levels:
                    if m * need_bytes > slice_bytes:
                        continue
                    lat = scaling.latency_s(gpu_latency_s, k, m)
                    rows.append(SliceOption(ti, vi, k, m, lat, m / lat))
    return tuple(rows)


@lru_cache(maxsize=None)
def maximal_geometries() -> tuple[tuple[int, ...], ...]:
    """Every maximal multiset of slice sizes that fits one GPU under ``MIG_RULES``, sorted.

    Derived from the rules (not listed by hand): a geometry is valid when its instances can take
    disjoint memory slices at allowed offsets with at most 7 compute slices; maximal when no
    further instance fits. Any valid geometry is a sub-multiset of a maximal one, so the optimizer
    needs only these (unused slots stay idle).
    """
    found: set[tuple[int, ...]] = set()

    # Instances are added in increasing memory-start order, so each placement is visited once.
    def search(sizes: tuple[int, ...], used_mask: int, compute: int, min_start: int) -> None:
        grew = False
        for k in SLICE_TYPES:
            if compute + k > COMPUTE_SLICES_PER_GPU:
                continue
            starts, width = MIG_RULES[k]
            for s in starts:
                mask = ((1 << width) - 1) << s
                if s + width > MEMORY_SLICES_PER_GPU or mask & used_mask:
                    continue
                grew = True  # some instance still fits, whatever its offset
                if s >= min_start:
                    search(sizes + (k,), used_mask | mask, compute + k, s + 1)
        if not grew and sizes:
            found.add(tuple(sorted(sizes, reverse=True)))

    search((), 0, 0, 0)
    # A multiset reached maximally by one order may be extendable by another placement of the
    # same sizes; keep only those no other found geometry strictly contains.
    return tuple(sorted(g for g in found if not any(_contains(h, g) for h in found if h != g)))


def _contains(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    rest = list(big)
    for k in small:
        if k not in rest:
            return False
        rest.remove(k)
    return len(rest) > 0
