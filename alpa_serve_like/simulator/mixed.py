"""``simulate_plan`` / ``simulate_mixed``: serve a workload on groups of mixed device types.

``simulate_plan`` takes a ``Placement`` whose groups name their device types
(``GroupPlacement.device``, else the plan's); ``simulate_mixed`` takes the same as lists: the
device type of each group, the models it hosts and (optionally) its ParallelConfig: MIG slices of
different sizes (one device each) next to model-parallel groups of whole GPUs of different
generations. Latencies come from each device type's
profiles (``ProfilingDatabase.for_device``); routing, admission and batching are the shared
scheduler's, run by the kernel (routing policies with a kernel code) or the reference simulator.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.scheduling import resolve_routing
from alpa_serve_like.scheduling.partition_tables import tables_from_device_profiles
from alpa_serve_like.simulator.kernel import KernelRun
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.reference import simulate_segment_reference
from alpa_serve_like.simulator.result import SimResult
from alpa_serve_like.simulator.run import measured_mask


def simulate_mixed(
    group_devices: Sequence[str],
    group_models: Sequence[Sequence[str]],
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    options: SimOptions | None = None,
    group_compute: Sequence[float] | None = None,
    group_configs: Sequence[ParallelConfig] | None = None,
) -> SimResult:
    """Simulate ``workload`` on groups ``g``: ``group_configs[g]`` (default one device) on devices of
    type ``group_devices[g]``, hosting ``group_models[g]``.

    ``group_compute`` (e.g. MIG compute slices) orders groups for size-aware routing (ELSA). The
    kernel runs when the routing policy has a kernel version and ``options.backend`` is ``kernel``.
    """
    options = options or SimOptions()
    tables = tables_from_device_profiles(workload.model_names, group_devices, group_models,
                                         profiles_by_device, options.scheduling.max_batch_size, group_compute,
                                         group_configs)
    arrival, model_id, deadline = workload.arrival_s, workload.model_id, workload.deadline_s
    sched = options.scheduling
    if options.backend == "kernel" and resolve_routing(sched.routing).kernel_code is not None:
        out = KernelRun(tables, arrival, model_id, deadline, sched, options.jit).result()
    else:
        out = simulate_segment_reference(tables, arrival, model_id, deadline, sched)
    n = len(arrival)
    ok = out.batch >= 0
    start, finish = np.full(n, np.nan), np.full(n, np.nan)
    start[ok] = out.batch_start_s[out.batch[ok]]
    finish[ok] = out.batch_finish_s[out.batch[ok]]
    span = (max(float(np.nanmax(finish)), float(arrival[-1])) - float(arrival[0])) if ok.any() else 0.0
    busiest = out.busy_s.max(axis=1) if out.busy_s.size else np.zeros(len(group_devices))
    util = busiest / span if span > 0 else np.full(len(busiest), np.nan)
    return SimResult(
        model_names=workload.model_names, arrival_s=arrival, model_id=model_id, deadline_s=deadline,
        segment=np.zeros(n, dtype=np.int32), group=out.group, reason=out.reason, batch=out.batch,
        start_s=start, finish_s=finish, measured=measured_mask(arrival, options.warmup_s),
        group_utilisation=(util,), options=options,
        meta={"placement": " ".join(f"{d}[{len(m)}]" for d, m in zip(group_devices, group_models))},
    )


def simulate_plan(
    placement: Placement,
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    options: SimOptions | None = None,
) -> SimResult:
    """Simulate ``placement`` with each group on its own device type (``Placement.group_device``),
    its compute size (for ELSA) being that type's compute slices (``mig.compute_slices_of``)."""
    devices = placement.group_devices()
    if None in devices:
        raise ValueError(f"placement group {devices.index(None)} names no device and the plan records none; "
                         "give the group a 'device' or the plan a 'device'")
    return simulate_mixed(devices, [g.models for g in placement.groups], profiles_by_device, workload, options,
                          group_compute=[mig.compute_slices_of(d) for d in devices],
                          group_configs=[g.config for g in placement.groups])
