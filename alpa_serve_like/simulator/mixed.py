"""``simulate_plan`` / ``simulate_mixed``: serve a workload on groups of mixed device types.

``simulate_plan`` takes a ``Placement`` whose groups name their device types
(``GroupPlacement.device``, else the plan's); ``simulate_mixed`` takes the same as lists: the
device type of each group, the models it hosts and (optionally) its ParallelConfig: MIG slices of
different sizes (one device each) next to model-parallel groups of whole GPUs of different
generations. Latencies come from each device type's
profiles (``ProfilingDatabase.for_device``); everything else (routing, admission, batching, the
queue discipline, the backend) is ``simulator.engine.run_segment``'s, as for ``simulate``.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.scheduling.partition_tables import tables_from_device_profiles
from alpa_serve_like.simulator.engine import SegmentRun, as_schedule, request_deadlines, run_segment
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.result import SimResult
from alpa_serve_like.simulator.run import result_from_runs


def simulate_mixed(
    group_devices: Sequence[str],
    group_models: Sequence[Sequence[str]],
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    options: SimOptions | None = None,
    group_compute: Sequence[float] | None = None,
    group_configs: Sequence[ParallelConfig] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate ``workload`` on groups ``g``: ``group_configs[g]`` (default one device) on devices of
    type ``group_devices[g]``, hosting ``group_models[g]``.

    ``group_compute`` (e.g. MIG compute slices) orders groups for size-aware routing (ELSA). Only the
    latency tables differ from ``simulate``: the backend, queue discipline, latency rules, deadlines
    and finish overhead are the same code's. ``progress(done, total)`` is called as requests are decided.
    """
    options = options or SimOptions()
    sched = options.scheduling
    configs = list(group_configs) if group_configs is not None else [ParallelConfig(1, 1, 1)] * len(group_devices)
    tables = tables_from_device_profiles(workload.model_names, group_devices, group_models,
                                         profiles_by_device, sched.max_batch_size, group_compute,
                                         configs, sched.pipeline_comm_factor, sched.float32_times)
    placement = Placement(tuple(GroupPlacement(c, tuple(m), device=d)
                                for d, m, c in zip(group_devices, group_models, configs)))
    arrival, model_id = workload.arrival_s, workload.model_id
    deadline = request_deadlines(arrival, workload.slo_s, sched)
    out = run_segment(tables, arrival, model_id, deadline, options, progress)
    runs = [SegmentRun(0, 0, len(arrival), placement, out)]
    return result_from_runs(as_schedule(placement), runs, workload, deadline, options,
                            " ".join(f"{d}[{len(m)}]" for d, m in zip(group_devices, group_models)))


def simulate_plan(
    placement: Placement,
    profiles_by_device: Mapping[str, Mapping[str, ModelProfile]],
    workload: Workload,
    options: SimOptions | None = None,
    default_device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate ``placement`` with each group on its own device type (``Placement.group_device``;
    a group that names none runs on ``default_device``, else on the plan's), its compute size (for
    ELSA) being that type's compute slices (``mig.compute_slices_of``)."""
    devices = [g.device or default_device or placement.context.device for g in placement.groups]
    if None in devices:
        raise ValueError(f"placement group {devices.index(None)} names no device and the plan records none; "
                         "give the group a 'device' or the plan a 'device'")
    return simulate_mixed(devices, [g.models for g in placement.groups], profiles_by_device, workload, options,
                          group_compute=[mig.compute_slices_of(d) for d in devices],
                          group_configs=[g.config for g in placement.groups], progress=progress)
