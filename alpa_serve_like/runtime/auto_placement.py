"""A placement computed at start-up from the profiling database and a declared expected load.

Used when ``serve run alpa_serve_like.serve:app`` gets no ``placement=`` file: the user states the
models (``bert-tiny:2,gpt-tiny:1``), the devices to use, the expected total rate and the SLO scale;
a synthetic Gamma workload with those numbers trains the named placement policy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alpa_serve_like.core.hardware import cluster_spec
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.runtime.options import RuntimeOptions


@dataclass(frozen=True)
class ExpectedLoad:
    """What the operator expects; every field has a small-CPU-demo default."""

    models: str = "bert-tiny:2"
    """Base models and copies, ``NAME:COUNT,...``."""
    num_devices: int = 2
    rate: float = 20.0
    """Expected total requests per second over all models."""
    cv: float = 2.0
    """Expected burstiness (Gamma inter-arrival CV)."""
    slo_scale: float = 5.0
    """SLO = scale x single-device latency of each model."""
    policy: str = "mp-search"
    memory_budget_gib: float = 1.0
    duration_s: float = 120.0


def plan_placement(load: ExpectedLoad, database: ProfilingDatabase, device: str, max_batch_size: int = 1,
                   seed: int = 0) -> Placement:
    """Run ``load.policy`` on a synthetic workload shaped like ``load``."""
    from alpa_serve_like.placement import PlacementOptions, instantiate_models, parse_model_counts, place
    from alpa_serve_like.placement.problem_inputs import SyntheticTraffic
    from alpa_serve_like.scheduling import SchedulingOptions

    models, profiles = instantiate_models(parse_model_counts(load.models), database.for_device(device))
    cluster = cluster_spec(load.num_devices, device, devices_per_node=load.num_devices,
                           memory_budget_gib=load.memory_budget_gib)
    rng = np.random.default_rng(seed)
    traffic = SyntheticTraffic(rate=load.rate, duration_s=load.duration_s, cv=load.cv, split="uniform",
                               slo_scale=load.slo_scale)
    workload = traffic.workload(models, profiles, rng)
    placement = place(load.policy, cluster, models, profiles, workload,
                      PlacementOptions(scheduling=SchedulingOptions(max_batch_size=max_batch_size)), rng)
    if not isinstance(placement, Placement):
        raise ValueError(f"policy {load.policy!r} returned a time-switched schedule; the runtime serves one "
                         f"placement: pick a static policy such as mp-search or sr-greedy")
    return placement


def check_plan_device(placement: Placement, database: ProfilingDatabase, options: RuntimeOptions) -> None:
    """Re-check memory before serving, each group against the device type it is predicted on, as
    the controller resolves it (``controllers.controller.per_group_device_profiles``): when the
    groups name device types and the database has them all, a group's own type (its ``device``,
    else the plan's, else ``options.profile_device``); otherwise every group on
    ``options.profile_device`` (a stand-in), checked only when that differs from the plan's device.
    A group on the plan's own device gets the plan's budget, any other the type's default share;
    refuses naming the group, model, bytes and budget when one does not fit."""
    from alpa_serve_like.core.hardware import default_memory_budget_bytes
    from alpa_serve_like.placement.memory import check_plan_memory
    from alpa_serve_like.profiling.instance_profiles import instance_profiles

    context = placement.context
    served = options.profile_device or context.device
    devices = [d or served for d in placement.group_devices()]
    per_group = any(g.device for g in placement.groups) and set(devices) <= set(database.devices)
    if not per_group:
        if not context.device or served == context.device:
            return  # checked when it was placed, with its own budget (or an older file naming no device)
        from dataclasses import replace

        devices = [served] * len(devices)
        placement = Placement(tuple(replace(g, device=None) for g in placement.groups), context=context)

    def budget_of(device: str) -> int:
        if device == context.device and context.memory_budget_bytes:
            return context.memory_budget_bytes
        return default_memory_budget_bytes(device)

    def profiles_of(device: str):
        return instance_profiles([m for g, d in zip(placement.groups, devices) if d == device for m in g.models],
                                 database, device)

    check_plan_memory(placement, profiles_of, budget_of, options.scheduling.max_batch_size, served)
