"""Search MIG geometries for a workload: every multiset of per-GPU geometries, scored by simulation.

Where AlpaServe's groups meet PARIS's partitions: the unit of placement is one MIG instance (slices
cannot form model-parallel groups), each instance hosts the models that fit its memory budget
together, least-hosted first (``assign_models``), and the simulator (shared scheduler, routing from
``SimOptions``) scores the result on the given traffic. Exhaustive over multisets of maximal geometries built from ``sizes``, so meant for a
few GPUs; whole GPUs are the geometry ``(7,)``, which makes "slice or not" one of the candidates.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.simulator.mixed import simulate_mixed
from alpa_serve_like.simulator.options import SimOptions

_ONE = ParallelConfig(1, 1, 1)


@dataclass(frozen=True)
class GeometryScore:
    """One candidate: per-GPU geometries, the partitions' device types and models, its attainment."""

    geometries: tuple[tuple[int, ...], ...]
    group_devices: tuple[str, ...]
    group_models: tuple[tuple[str, ...], ...]
    attainment: float


def hosted_models(device_type: str, models: Sequence[str], profiles: Mapping[str, ModelProfile],
                  memory_fraction: float, covered: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """Models (in ``models`` order) that fit ``memory_fraction`` of the device's memory together,
    tried least ``covered`` (instances already hosting it) first, ties in ``models`` order: each is
    taken when its weights fit beside those already taken (one too big for what is left is skipped)."""
    budget = mig.slice_device(device_type).memory_bytes * memory_fraction
    covered = covered or {}
    taken, used = set(), 0
    for m in sorted(models, key=lambda m: covered.get(m, 0)):  # stable: ties keep ``models`` order
        if m in profiles:
            need = profiles[m].config(_ONE).device_memory_bytes()
            if used + need <= budget:
                taken.add(m)
                used += need
    return tuple(m for m in models if m in taken)


def assign_models(devices: Sequence[str], models: Sequence[str],
                  profiles_by_device: Mapping[str, Mapping[str, ModelProfile]], memory_fraction: float,
                  covered: Mapping[str, int] | None = None) -> tuple[tuple[str, ...], ...]:
    """The models each instance on ``devices`` hosts (``hosted_models``), instance by instance, each
    preferring the models fewest instances (and groups counted in ``covered``) host so far: identical
    instances then split models that do not all fit one of them instead of hosting the same ones."""
    count = Counter(covered or {})
    out = []
    for device in devices:
        hosted = hosted_models(device, models, profiles_by_device.get(device, {}), memory_fraction, count)
        count.update(hosted)
        out.append(hosted)
    return tuple(out)


def search_geometries(
    gpu: str,
    num_gpus: int,
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    options: SimOptions | None = None,
    sizes: Sequence[int] = (1, 2, 3, 7),
    memory_fraction: float = 0.9,
) -> list[GeometryScore]:
    """Every multiset of ``num_gpus`` maximal geometries over ``sizes``, best attainment first
    (ties keep enumeration order: geometries with bigger instances first)."""
    geos = mig.geometries_of_sizes(tuple(sizes))
    names = {k: mig.profile_by_slices(gpu, k).device_name for k in set(sizes)}
    out = []
    for combo in itertools.combinations_with_replacement(geos, num_gpus):
        sizes_all = sorted(k for g in combo for k in g)
        devices = tuple(names[k] for k in sizes_all)
        models = assign_models(devices, workload.model_names, profiles_by_device, memory_fraction)
        result = simulate_mixed(devices, models, profiles_by_device, workload, options, group_compute=sizes_all)
        out.append(GeometryScore(combo, devices, models, result.attainment))
    out.sort(key=lambda s: -s.attainment)
    return out
