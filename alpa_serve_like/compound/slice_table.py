"""Per-(task, variant, slice type, MPS level) latency and throughput: the optimizer's only input
about hardware.

A *slice type* is a MIG instance of ``k`` of a GPU's compute slices (the profiles and placement
rules of ``core.mig``; 7 is the whole GPU). An *MPS level* ``m`` (1..4) runs ``m`` copies of the
model on one slice under NVIDIA MPS. One *instance* is one slice at one MPS level running one
variant. Latencies come from the project's shared slice models:

* a variant's model profiled on the slice itself (device ``a100-80gb/3g.40gb``, e.g. from
  ``cost_model.mig_profiles``): that profile's batch-1 latency;
* otherwise its whole-GPU batch-1 latency (config (1, 1, 1)) carried to the slice by the calibrated
  slice model (``cost_model.mig_slices``: the measured slice speeds and the smooth roofline with a
  latency floor). The zoo's models have no MIG measurements, so their floor is taken as
  ``SliceModel.floor_share`` of the whole-GPU latency (ours; 0 makes latency scale with the slice
  speeds alone);
* MPS level ``m``: the slowdown of ``cost_model.mps`` for ``m`` clients on that slice; the
  instance completes ``m / latency`` requests per second;
* memory: the slice's memory (``core.mig.slice_device``) must hold ``m`` copies of the model's
  batch-1 peak device memory. A GPU without MIG profiles offers whole-GPU instances only.

``option_table`` evaluates this once per option; the optimizer reads only the resulting rows, so a
table built by hand (tests) works the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.core import mig
from alpa_serve_like.core.hardware import get_device
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.cost_model.mig_slices import CALIBRATED_SCALING, NetworkSliceModel, SliceScaling
from alpa_serve_like.cost_model.mps import MAX_MPS_CLIENTS, mps_latency_s, mps_slowdown

SLICE_TYPES: tuple[int, ...] = tuple(sorted(mig.PLACEMENT_RULES))
MPS_LEVELS: tuple[int, ...] = tuple(range(1, MAX_MPS_CLIENTS + 1))


@dataclass(frozen=True)
class SliceModel:
    """How a whole-GPU latency carries to a slice and an MPS level (see the module docstring)."""

    floor_share: float = 0.5
    """Share of the whole-GPU batch-1 latency that is the model's latency floor (ours)."""
    scaling: SliceScaling = field(default_factory=lambda: CALIBRATED_SCALING)

    def __post_init__(self):
        if not 0 <= self.floor_share < 1:
            raise ValueError(f"floor_share must be in [0, 1), got {self.floor_share}")

    def network(self, model: str, gpu_latency_s: float) -> NetworkSliceModel:
        """The slice model of ``model``: one unit of work is one batch-1 request, and on the whole
        GPU it takes ``gpu_latency_s``."""
        p = self.scaling.smoothness
        floor_s = self.floor_share * gpu_latency_s
        per_unit_s = self.scaling.speed(mig.COMPUTE_SLICES) * (gpu_latency_s**p - floor_s**p) ** (1.0 / p)
        return NetworkSliceModel(model, fixed_s=0.0, per_unit_s=per_unit_s, floor_s=floor_s)


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
    model: SliceModel = SliceModel(),
    slice_types: tuple[int, ...] = SLICE_TYPES,
    mps_levels: tuple[int, ...] = MPS_LEVELS,
) -> tuple[SliceOption, ...]:
    """Every (task, variant, slice type, MPS level) whose copies fit the slice's memory.

    ``db`` is a ``ProfilingDatabase``; each variant's model must be profiled on ``device`` with
    config (1, 1, 1) at batch 1 (the error names the model and how to profile it).
    """
    slices = _slice_devices(device, slice_types)
    rows = []
    for ti, task in enumerate(app.tasks):
        for vi, variant in enumerate(task.variants):
            entry = db.get(variant.model, device).config(ParallelConfig(1, 1, 1))
            network = model.network(variant.model, entry.total_latency_s(1))
            need_bytes = entry.device_memory_bytes(1)
            for k, (slice_name, slice_bytes) in slices.items():
                measured_s = _measured_latency_s(db, variant.model, slice_name)
                for m in mps_levels:
                    if m * need_bytes > slice_bytes:
                        continue
                    if measured_s is None:
                        lat = mps_latency_s(network, k, 1, m, scaling=model.scaling)
                    else:
                        lat = measured_s * mps_slowdown(network, k, 1, m, scaling=model.scaling)
                    rows.append(SliceOption(ti, vi, k, m, lat, m / lat))
    return tuple(rows)


def _slice_devices(device: str, slice_types: tuple[int, ...]) -> dict[int, tuple[str, int]]:
    """Slice size -> (device name, memory bytes); the whole GPU is ``device`` itself."""
    for k in slice_types:
        if k not in mig.PLACEMENT_RULES:
            raise ValueError(f"slice type {k} is not a MIG size; use one of {SLICE_TYPES}")
    out = {}
    try:
        profiles = {p.compute_slices: p for p in mig.profiles(device)}
    except KeyError:  # not MIG-capable here: whole GPUs only
        profiles = {}
    for k in slice_types:
        if k == mig.COMPUTE_SLICES:
            out[k] = (device, get_device(device).memory_bytes)
        elif k in profiles:
            name = profiles[k].device_name
            out[k] = (name, mig.slice_device(name).memory_bytes)
    return out


def _measured_latency_s(db, model: str, slice_device: str) -> float | None:
    """Batch-1 latency of ``model`` profiled on the slice itself, if the database has it."""
    if slice_device not in db.devices or model not in db.models(slice_device):
        return None
    return db.get(model, slice_device).config(ParallelConfig(1, 1, 1)).total_latency_s(1)
