"""Joint search over MIG geometries and model-parallel groups: where AlpaServe's meshes meet PARIS's
partitions, on ``num_gpus`` GPUs of one type.

For every split ``k = 0..num_gpus``: ``k`` GPUs stay whole and a registered placement policy
(AlpaServe's ``mp-search`` by default) builds model-parallel groups on them from the whole GPU's
profiles; the other ``num_gpus - k`` are partitioned, trying every multiset of maximal geometries
built from ``sizes`` (``mig.geometries_of_sizes``), each instance a one-device group hosting the
models that fit it, those fewest groups host so far first (``geometry_search.assign_models``, so
the instances and meshes together cover every model they can; instances cannot form meshes).
Each candidate is one ``Placement`` whose groups name their device type (whole GPUs first, device
ids ``0..k-1`` as the policy gave them, then one id per instance), scored by ``simulate_plan`` on
the given traffic (routing, batching and admission from ``SimOptions``); the list comes back best
first. ``k = num_gpus`` is AlpaServe on whole GPUs, ``k = 0`` partitions only, the rest mixes.
Exhaustive over geometries, so meant for a few GPUs.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core import mig
from alpa_serve_like.core.hardware import ClusterSpec, get_device
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlanContext
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement import PlacementOptions, place
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.placement.geometry_search import assign_models
from alpa_serve_like.simulator.mixed import simulate_plan
from alpa_serve_like.simulator.options import SimOptions

_ONE = ParallelConfig(1, 1, 1)


@dataclass(frozen=True)
class JointCandidate:
    """One point of the joint space: ``whole_gpus`` GPUs in model-parallel groups, the rest cut into
    ``geometries`` (one tuple of instance sizes per partitioned GPU)."""

    whole_gpus: int
    geometries: tuple[tuple[int, ...], ...]
    placement: Placement
    attainment: float

    def label(self) -> str:
        """``meshes[(op1,pp2)]+3g+2g+2g``: the whole-GPU groups, then each partitioned GPU."""
        parts = []
        if self.whole_gpus:
            cfgs = ",".join(f"(op{g.config.op},pp{g.config.pp})" for g in self.placement.groups if "/" not in (g.device or ""))
            parts.append(f"meshes[{cfgs}]")
        parts += ["+".join(f"{k}g" for k in geo) for geo in self.geometries]
        return " | ".join(parts)


def mesh_groups(policy: str, gpu: str, num_gpus: int, models: Sequence[str], profiles: Mapping[str, ModelProfile],
                workload: Workload, options: PlacementOptions, memory_fraction: float,
                rng: np.random.Generator) -> tuple[GroupPlacement, ...]:
    """``policy``'s groups on ``num_gpus`` whole GPUs (one node), each naming ``gpu`` and its device ids;
    none when no model fits (the policy's ``PlacementInfeasibleError`` is left to the caller otherwise)."""
    budget = int(get_device(gpu).memory_bytes * memory_fraction)
    cluster = ClusterSpec(num_devices=num_gpus, devices_per_node=num_gpus, memory_budget_bytes=budget, device_type=gpu)
    placed = place(policy, cluster, [m for m in models if m in profiles], profiles, workload, options, rng)
    if not isinstance(placed, Placement):
        raise TypeError(f"policy {policy!r} returned a {type(placed).__name__}; the joint search needs an offline policy")
    return tuple(GroupPlacement(g.config, g.models, ids, device=gpu)
                 for g, ids in zip(placed.groups, placed.device_assignment()) if g.models)


def joint_search(
    gpu: str,
    num_gpus: int,
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    policy: str = "mp-search",
    placement_options: PlacementOptions | None = None,
    sim_options: SimOptions | None = None,
    sizes: Sequence[int] = (1, 2, 3, 7),
    memory_fraction: float = 0.9,
    rng: np.random.Generator | None = None,
) -> list[JointCandidate]:
    """Every (whole GPUs, geometries) split of ``num_gpus`` GPUs of type ``gpu``, best attainment first
    (ties keep enumeration order: more whole GPUs first, then bigger instances first). The meshes are
    placed and every candidate scored under one ``SchedulingOptions``: an option left out takes the
    other's, and two that differ raise ValueError."""
    if num_gpus < 1:
        raise ValueError(f"joint search: num_gpus must be >= 1, got {num_gpus}")
    if placement_options is None:
        placement_options = PlacementOptions(scheduling=sim_options.scheduling if sim_options else SchedulingOptions())
    if sim_options is None:
        sim_options = SimOptions(scheduling=placement_options.scheduling)
    if placement_options.scheduling != sim_options.scheduling:
        # the meshes would be built for one server and scored on another (batch 1 vs 16, say)
        raise ValueError(f"joint search: placement_options.scheduling ({placement_options.scheduling}) differs from "
                         f"sim_options.scheduling ({sim_options.scheduling}); pass the same SchedulingOptions to both")
    rng = rng if rng is not None else np.random.default_rng(0)
    geos = mig.geometries_of_sizes(tuple(sizes))
    names = {k: mig.profile_by_slices(gpu, k).device_name for k in set(sizes)}
    context = PlanContext(device=gpu)
    out = []
    for whole in range(num_gpus, -1, -1):
        meshes = () if whole == 0 else mesh_groups(policy, gpu, whole, workload.model_names,
                                                   profiles_by_device.get(gpu, {}), workload, placement_options,
                                                   memory_fraction, rng)
        on_meshes = Counter(m for g in meshes for m in g.models)
        for combo in itertools.combinations_with_replacement(geos, num_gpus - whole):
            devices = [names[k] for k in sorted((k for g in combo for k in g), reverse=True)]
            slices = []
            for device, hosted in zip(devices, assign_models(devices, workload.model_names, profiles_by_device,
                                                             memory_fraction, on_meshes)):
                if hosted:
                    slices.append(GroupPlacement(_ONE, hosted, (whole + len(slices),), device=device))
            groups = meshes + tuple(slices)
            if not groups:
                continue
            plan = Placement(groups, meta={"search": "joint", "policy": policy}, context=context)
            attainment = simulate_plan(plan, profiles_by_device, workload, sim_options).attainment
            out.append(JointCandidate(whole, combo, plan, attainment))
    out.sort(key=lambda c: -c.attainment)
    return out
