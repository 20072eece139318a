"""Placement on a mixed cluster: groups built from one device type each, traffic shared by capacity.

``place_per_type`` runs a registered policy on every device type's part of a ``MixedCluster``
(``homogeneous_part``) with that type's profiles, on the share of the training traffic the type can
carry: its devices over a model's batch-1 single-device latency there, summed over the models
(a request of each model, in the workload's mix, is the unit). Requests are thinned at random with
the passed generator. MIG slices never form model-parallel groups, so their parts are placed with
``max_op = max_pp = 1``. The result is one ``Placement`` whose groups name their device type
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
from alpa_serve_like.placement import PlacementOptions, place

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


def place_per_type(policy: str, cluster: MixedCluster, models: Sequence[str],
                   profiles_by_device: Mapping[str, Mapping[str, ModelProfile]], train_workload: Workload,
                   options: PlacementOptions | None = None, rng: np.random.Generator | None = None
                   ) -> Placement:
    """Run ``policy`` per device type on that type's share of ``train_workload``; merge the groups
    into one plan, each group with its device type and its device ids in ``cluster``."""
    options = options or PlacementOptions()
    rng = rng if rng is not None else np.random.default_rng(0)
    shares = capacity_shares(cluster, train_workload, profiles_by_device)
    groups = []
    for t in cluster.device_types:
        keep = rng.random(len(train_workload)) < shares[t]
        opts = replace(options, max_op=1, max_pp=1) if "/" in t else options
        placed = place(policy, cluster.homogeneous_part(t), models, profiles_by_device[t],
                       train_workload.select(keep), opts, rng)
        if not isinstance(placed, Placement):
            raise TypeError(f"policy {policy!r} returned a {type(placed).__name__}; per-type placement "
                            f"needs a single Placement (use an offline policy)")
        ids = cluster.device_ids(t)
        for g, local in zip(placed.groups, placed.device_assignment()):
            groups.append(GroupPlacement(g.config, g.models, tuple(ids[d] for d in local), device=t))
    return Placement(tuple(groups), meta={"policy": policy, "mixed_cluster": cluster.to_dict()})
