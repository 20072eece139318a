"""Placement on a mixed cluster: groups built from one device type each, traffic shared by capacity.

``place_per_type`` runs a registered policy on every device type's part of a ``MixedCluster``
(``homogeneous_part``) with that type's profiles, on the share of the training traffic the type can
carry: its devices over a model's batch-1 single-device latency there, summed over the models
(a request of each model, in the workload's mix, is the unit). Requests are thinned at random with
the passed generator. MIG slices never form model-parallel groups, so their parts are placed with
``max_op = max_pp = 1``. Each type places only the models that fit some group of its part
(``models_per_type``; a model no type can hold is an error). The result is one ``Placement`` whose groups name their device type
(``GroupPlacement.device``) and their device ids in the mixed cluster, which the simulator
(``simulate_plan``) and the runtime take as they are. Routing then chooses among the types
request by request (the shared scheduler), so a type that turned out faster simply gets more.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.mixed_cluster import MixedCluster
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.placement import PlacementOptions, place
from alpa_serve_like.placement.memory import (MemoryModel, PlacementInfeasibleError, models_that_fit_nowhere,
                                              smallest_need)
from alpa_serve_like.placement.partitions import enumerate_partitions

_ONE = ParallelConfig(1, 1, 1)


def capacity_shares(cluster: MixedCluster, workload: Workload,
                    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]]) -> dict[str, float]:
    """Fraction of the traffic each device type can carry (sums to 1)."""
    counts = np.bincount(workload.model_id, minlength=len(workload.model_names)).astype(float)
    mix = counts / counts.sum() if counts.sum() else np.full(len(counts), 1.0 / len(counts))
    rate = {}
    for t in cluster.device_types:
        profiles = profiles_by_device.get(t)
        if profiles is None:
            raise KeyError(f"no profiles for device type {t!r} (have: {', '.join(sorted(profiles_by_device))})")
        seconds = sum(w * profiles[m].config(_ONE).total_latency_s(1)
                      for m, w in zip(workload.model_names, mix) if w > 0)
        rate[t] = len(cluster.device_ids(t)) / seconds
    total = sum(rate.values())
    return {t: r / total for t, r in rate.items()}


def models_per_type(cluster: MixedCluster, models: Sequence[str],
                    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
                    options: PlacementOptions, allow_unplaced: bool = False) -> dict[str, list[str]]:
    """The models each device type can hold in some group of its part (alone, activations for the
    largest batch); raises PlacementInfeasibleError naming a model no type can hold, with its least
    need and the budget on each type (with ``allow_unplaced`` such a model is simply on no list)."""
    out, needs = {}, {}
    for t in cluster.device_types:
        part = cluster.homogeneous_part(t)
        memory = MemoryModel(profiles_by_device[t], part.memory_budget_bytes, options.scheduling.max_batch_size)
        shapes = {c for p in enumerate_partitions(part.num_devices, part.devices_per_node,
                                                  1 if "/" in t else options.max_op,
                                                  1 if "/" in t else options.max_pp) for c in p}
        nowhere = set(models_that_fit_nowhere(memory, models, shapes))
        out[t] = [m for m in models if m not in nowhere]
        for m in nowhere:
            need = smallest_need(memory, m, shapes)
            needs.setdefault(m, []).append(f"{t}: {'no profile' if need is None else f'{need[0] / GiB:.2f} GiB'} "
                                           f"of {part.memory_budget_bytes / GiB:.2f} GiB")
    homeless = [m for m in models if not any(m in out[t] for t in out)]
    if homeless and not allow_unplaced:
        raise PlacementInfeasibleError(
            f"model {homeless[0]!r} fits no device type of the cluster even alone (least need per device: "
            f"{'; '.join(needs[homeless[0]])}); add larger devices or drop the model")
    return out


def place_per_type(policy: str, cluster: MixedCluster, models: Sequence[str],
                   profiles_by_device: Mapping[str, Mapping[str, ModelProfile]], train_workload: Workload,
                   options: PlacementOptions | None = None, rng: np.random.Generator | None = None,
                   allow_unplaced: bool = False) -> Placement:
    """Run ``policy`` per device type on that type's share of ``train_workload``; merge the groups
    into one plan, each group with its device type and its device ids in ``cluster``. A model that
    fits no type raises (``models_per_type``), or with ``allow_unplaced`` is left out of the plan."""
    options = options or PlacementOptions()
    rng = rng if rng is not None else np.random.default_rng(0)
    shares = capacity_shares(cluster, train_workload, profiles_by_device)
    fitting = models_per_type(cluster, models, profiles_by_device, options, allow_unplaced)
    groups = []
    for t in cluster.device_types:
        keep = rng.random(len(train_workload)) < shares[t]
        if not fitting[t]:
            continue
        opts = replace(options, max_op=1, max_pp=1) if "/" in t else options
        placed = place(policy, cluster.homogeneous_part(t), fitting[t], profiles_by_device[t],
                       train_workload.select(keep), opts, rng)
        if not isinstance(placed, Placement):
            raise TypeError(f"policy {policy!r} returned a {type(placed).__name__}; per-type placement "
                            f"needs a single Placement (use an offline policy)")
        ids = cluster.device_ids(t)
        for g, local in zip(placed.groups, placed.device_assignment()):
            groups.append(GroupPlacement(g.config, g.models, tuple(ids[d] for d in local), device=t))
    return Placement(tuple(groups), meta={"policy": policy, "mixed_cluster": cluster.to_dict()})
