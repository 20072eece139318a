"""Binding groups to MIG instances (GPU) or to fractional CPU shares (CPU stand-in for a slice).

On a MIG GPU, a group on device type ``a100-80gb/3g.40gb`` runs in one 3g.40gb instance: its actor
gets that instance's UUID in ``CUDA_VISIBLE_DEVICES`` (CUDA then shows it as the only device) and
asks Ray for one unit of the custom resource ``mig:3g.40gb`` that the node advertises per instance
(``ray start --resources '{"mig:3g.40gb": 2}'``), so Ray never puts two groups on one instance.
Without GPUs a slice is stood in for by a share of CPUs proportional to its compute slices.
Instances are read from ``nvidia-smi -L``. The functions return plain actor options and the
placement-group bundle of the group's one device; nothing here starts Ray. ``bind_groups`` is what
the runtime calls: a binding for each group on a MIG slice, None for the others (whole GPUs keep
their ``GPU`` bundles). ``MeshGroup`` turns a binding into its bundle and actor options.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Sequence

from alpa_serve_like.core import mig

_GPU_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9a-fA-F-]+)\)")
_MIG_LINE = re.compile(r"^\s+MIG (\d+g\.\d+gb)\s+Device\s+(\d+): \(UUID: (MIG-[0-9a-fA-F-]+)\)")
# Marketing names in nvidia-smi -> this project's GPU types (MIG-capable ones only).
_GPU_TYPES = ((re.compile(r"A100.*80GB"), "a100-80gb"), (re.compile(r"A100"), "a100-40gb"),
              (re.compile(r"H100"), "h100-80gb"), (re.compile(r"H200"), "h200-141gb"))


@dataclass(frozen=True)
class MigInstance:
    """One MIG instance as ``nvidia-smi -L`` lists it."""

    uuid: str
    device_type: str
    """``a100-80gb/3g.40gb``."""
    gpu_index: int


def gpu_type_of(marketing_name: str) -> str:
    for pattern, gpu in _GPU_TYPES:
        if pattern.search(marketing_name):
            return gpu
    raise ValueError(f"GPU {marketing_name!r} is not a MIG-capable type known here "
                     f"(known: {', '.join(g for _, g in _GPU_TYPES)})")


def parse_nvidia_smi_list(text: str) -> list[MigInstance]:
    """MIG instances in the output of ``nvidia-smi -L`` (GPUs without MIG contribute none)."""
    out, gpu_type, gpu_index = [], None, -1
    for line_no, line in enumerate(text.splitlines(), start=1):
        gpu = _GPU_LINE.match(line)
        if gpu:
            gpu_index, name = int(gpu.group(1)), gpu.group(2)
            try:
                gpu_type = gpu_type_of(name)
            except ValueError:
                gpu_type = None  # a GPU without MIG profiles here: its MIG lines (if any) are refused below
            continue
        inst = _MIG_LINE.match(line)
        if inst:
            if gpu_type is None:
                raise ValueError(f"nvidia-smi -L line {line_no}: MIG instance on a GPU of unknown type: {line.strip()!r}")
            device_type = f"{gpu_type}/{inst.group(1)}"
            mig.parse_profile(device_type)  # a profile this GPU does not have is an error
            out.append(MigInstance(inst.group(3), device_type, gpu_index))
    return out


@dataclass(frozen=True)
class GroupBinding:
    """Where one group runs: Ray actor options for its (single) device."""

    device_type: str
    actor_options: dict
    """``num_gpus``/``num_cpus``, ``resources`` and ``runtime_env`` for ``Actor.options``."""
    uuid: str = ""
    bundle: dict = field(default_factory=dict)
    """The placement-group bundle of the group's device: ``{"mig:3g.40gb": 1}`` or ``{"CPU": share}``."""

    @property
    def env_vars(self) -> dict:
        return dict(self.actor_options.get("runtime_env", {}).get("env_vars", {}))


def resource_name(device_type: str) -> str:
    """Custom Ray resource a node advertises per instance of this profile: ``mig:3g.40gb``."""
    return f"mig:{mig.parse_profile(device_type).name}"


def bind_to_instances(group_devices: Sequence[str], instances: Sequence[MigInstance]) -> list[GroupBinding]:
    """Give each group (by its device type) its own instance of that type, in listing order."""
    free: dict[str, list[MigInstance]] = {}
    for inst in instances:
        free.setdefault(inst.device_type, []).append(inst)
    out = []
    for g, device in enumerate(group_devices):
        pool = free.get(device.lower(), [])
        if not pool:
            have = {t: len(v) for t, v in free.items()}
            raise ValueError(f"group {g} needs a free {device!r} MIG instance; free instances by type: {have} "
                             f"(re-partition the GPUs, or place fewer groups on {device})")
        inst = pool.pop(0)
        out.append(GroupBinding(device, {
            "num_gpus": 0,  # the instance is claimed through the custom resource, not a whole GPU
            "resources": {resource_name(device): 1},
            "runtime_env": {"env_vars": {"CUDA_VISIBLE_DEVICES": inst.uuid}},
        }, inst.uuid, {resource_name(device): 1.0}))
    return out


def bind_to_cpu_shares(group_devices: Sequence[str], cpus_per_gpu: float) -> list[GroupBinding]:
    """CPU stand-in: a group on a ``k``g slice gets ``k / 7`` of ``cpus_per_gpu`` CPUs."""
    if not cpus_per_gpu > 0:
        raise ValueError(f"cpus_per_gpu must be > 0, got {cpus_per_gpu!r}")
    out = []
    for device in group_devices:
        share = cpus_per_gpu * mig.parse_profile(device).compute_slices / mig.COMPUTE_SLICES
        out.append(GroupBinding(device, {"num_cpus": share, "runtime_env": {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}},
                                bundle={"CPU": share}))
    return out


def is_slice(device_type: str | None) -> bool:
    return device_type is not None and "/" in device_type


def list_instances(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[MigInstance]:
    """The MIG instances ``nvidia-smi -L`` lists on this node (``run`` is injected for tests)."""
    try:
        proc = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"cannot list MIG instances: nvidia-smi -L failed ({exc}); a plan with groups on "
                           f"MIG slices needs MIG-partitioned GPUs (or serve it on CPU)") from None
    if proc.returncode != 0:
        raise RuntimeError(f"nvidia-smi -L exited {proc.returncode}: {proc.stderr.strip()[:200]}")
    return parse_nvidia_smi_list(proc.stdout)


def bind_groups(group_devices: Sequence[str | None], instances: Sequence[MigInstance] | None,
                cpu_per_device: float) -> list[GroupBinding | None]:
    """A binding for each group on a MIG slice, None for every other group.

    With ``instances`` (GPU serving) each slice group gets its own instance of its profile; without
    (CPU serving) a ``k``g slice group gets ``k / 7`` of the ``cpu_per_device`` CPUs a whole device's
    bundle asks for.
    """
    slices = [i for i, d in enumerate(group_devices) if is_slice(d)]
    out: list[GroupBinding | None] = [None] * len(group_devices)
    if not slices:
        return out
    devices = [group_devices[i] for i in slices]
    bound = bind_to_instances(devices, instances) if instances is not None else bind_to_cpu_shares(devices, cpu_per_device)
    for i, binding in zip(slices, bound):
        out[i] = binding
    return out
