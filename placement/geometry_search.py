"""Search MIG geometries for a workload: every multiset of per-GPU geometries, scored by simulation.

Where AlpaServe's groups meet PARIS's partitions: the unit of placement is one MIG instance (slices
cannot form model-parallel groups), each instance hosts the models that fit its memory budget
together (in the workload's order), and the simulator (shared scheduler, routing from
``SimOptions``) scores the result on the given traffic. Exhaustive over multisets of maximal geometries built from ``sizes``, so meant for a
few GPUs; whole GPUs are the geometry ``(7,)``, which makes "slice or not" one of the candidates.
"""
from __future__ import annotations

import itertools
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
                  memory_fraction: float) -> tuple[str, ...]:
    """Models, in order, that fit ``memory_fraction`` of the device's memory together: each is taken
    when its weights fit beside those already taken (a model too big for what is left is skipped)."""
    budget = mig.slice_device(device_type).memory_bytes * memory_fraction
    out, used = [], 0
    for m in models:
        if m in profiles:
            need = profiles[m].config(_ONE).device_memory_bytes()
            if used + need <= budget:
                out.append(m)
                used += need
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
        models = tuple(hosted_models(d, workload.model_names, profiles_by_device.get(d, {}), memory_fraction)
                       for d in devices)
        result = simulate_mixed(devices, models, profiles_by_device, workload, options, group_compute=sizes_all)
        out.append(GeometryScore(combo, devices, models, result.attainment))
    out.sort(key=lambda s: -s.attainment)
    return out
