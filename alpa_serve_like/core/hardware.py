"""DeviceSpec (one accelerator's datasheet numbers) and ClusterSpec (how many, how grouped)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

GiB = 1024**3
GB = 1e9


@dataclass(frozen=True)
class DeviceSpec:
    """Datasheet numbers of one accelerator and the links between them.

    These are the peaks vendors publish; how much of each the cost model achieves is a separate,
    calibrated set of numbers (``alpa_serve_like.cost_model.CostModelParams``).
    """

    name: str
    peak_fp16_flops: float
    """Dense fp16/bf16 tensor-core FLOP/s."""
    mem_bandwidth_bytes_per_s: float
    memory_bytes: int
    intra_node_link_bytes_per_s: float
    """Per-device bandwidth to peers in the same node (NVLink)."""
    intra_node_link_latency_s: float
    inter_node_link_bytes_per_s: float
    """Per-device share of the node's network bandwidth to other nodes."""
    inter_node_link_latency_s: float

    def __post_init__(self):
        for field, value in asdict(self).items():
            if field != "name" and not (value > 0):
                raise ValueError(f"device {self.name!r}: {field} must be > 0, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DeviceSpec":
        return cls(**data)


# Sources: NVIDIA V100, A100 and H100 (SXM) datasheets; AWS p3.16xlarge (25 Gbit/s for 8 GPUs),
# p4de.24xlarge (400 Gbit/s for 8 GPUs), p5.48xlarge (3200 Gbit/s for 8 GPUs) instance pages.
BUILTIN_DEVICES: dict[str, DeviceSpec] = {
    spec.name: spec
    for spec in (
        DeviceSpec(
            name="v100-16gb",
            peak_fp16_flops=125e12,
            mem_bandwidth_bytes_per_s=900 * GB,
            memory_bytes=16 * GiB,
            intra_node_link_bytes_per_s=150 * GB,
            intra_node_link_latency_s=8e-6,
            inter_node_link_bytes_per_s=25e9 / 8 / 8,
            inter_node_link_latency_s=30e-6,
        ),
        DeviceSpec(
            name="a100-40gb",
            peak_fp16_flops=312e12,
            mem_bandwidth_bytes_per_s=1555 * GB,
            memory_bytes=40 * GiB,
            intra_node_link_bytes_per_s=300 * GB,
            intra_node_link_latency_s=6e-6,
            inter_node_link_bytes_per_s=400e9 / 8 / 8,
            inter_node_link_latency_s=15e-6,
        ),
        DeviceSpec(
            name="a100-80gb",
            peak_fp16_flops=312e12,
            mem_bandwidth_bytes_per_s=2039 * GB,
            memory_bytes=80 * GiB,
            intra_node_link_bytes_per_s=300 * GB,
            intra_node_link_latency_s=6e-6,
            inter_node_link_bytes_per_s=400e9 / 8 / 8,
            inter_node_link_latency_s=15e-6,
        ),
        DeviceSpec(
            name="h100-80gb",
            peak_fp16_flops=989e12,
            mem_bandwidth_bytes_per_s=3350 * GB,
            memory_bytes=80 * GiB,
            intra_node_link_bytes_per_s=450 * GB,
            intra_node_link_latency_s=5e-6,
            inter_node_link_bytes_per_s=3200e9 / 8 / 8,
            inter_node_link_latency_s=10e-6,
        ),
        # The CPU "device" the demo and tests carve out of this machine; numbers are rough and
        # only used when nothing measured is in the database.
        DeviceSpec(
            name="cpu",
            peak_fp16_flops=150e9,  # one AVX-512 core, fp32 FMA (torch runs fp32 on CPU)
            mem_bandwidth_bytes_per_s=100 * GB,  # L2/L3: the tiny models' working sets stay in cache
            memory_bytes=2 * GiB,
            intra_node_link_bytes_per_s=5 * GB,
            intra_node_link_latency_s=50e-6,
            inter_node_link_bytes_per_s=1 * GB,
            inter_node_link_latency_s=100e-6,
        ),
    )
}


DEFAULT_MEMORY_FRACTION = 13 / 16
"""Share of a device's memory a placement may use by default. AlpaServe budgeted 13 GiB of a 16 GiB
V100 (the rest is the framework, CUDA context and fragmentation), i.e. 81.25%: 13 GiB on v100-16gb,
65 GiB on a100-80gb and h100-80gb, 32.5 GiB on a100-40gb, 1.625 GiB on the ``cpu`` device."""


def default_memory_budget_bytes(device_type: str) -> int:
    """``DEFAULT_MEMORY_FRACTION`` of a built-in device's memory (or a MIG instance's,
    ``a100-80gb/3g.40gb``); raises naming the fix otherwise."""
    try:
        spec = get_device(device_type)
    except (KeyError, ValueError):
        spec = None
    if spec is None:
        raise ValueError(
            f"device {device_type!r} is not built in (known: {', '.join(sorted(BUILTIN_DEVICES))}), so its "
            f"memory is unknown: give the memory budget explicitly (--memory-budget-gib)"
        )
    return int(spec.memory_bytes * DEFAULT_MEMORY_FRACTION)


def get_device(name: str) -> DeviceSpec:
    """Return the built-in device called ``name`` (case-insensitive).

    A MIG instance is named ``GPU/PROFILE`` (``a100-80gb/3g.40gb``): see ``core.mig.slice_device``.
    """
    if "/" in name:
        from alpa_serve_like.core.mig import slice_device  # mig builds on this module's table

        return slice_device(name)
    spec = BUILTIN_DEVICES.get(name.lower())
    if spec is None:
        raise KeyError(f"unknown device {name!r} (known: {', '.join(sorted(BUILTIN_DEVICES))})")
    return spec


@dataclass(frozen=True)
class ClusterSpec:
    """A homogeneous cluster: ``num_devices`` devices of ``device_type``, ``devices_per_node`` each node.

    ``memory_budget_bytes`` is what a placement may use per device (weights plus activations); it is
    below the device memory to leave room for the runtime. None (the default) means
    ``default_memory_budget_bytes(device_type)`` (13 GiB on the default v100-16gb, as in AlpaServe).
    """

    num_devices: int
    devices_per_node: int = 8
    memory_budget_bytes: int | None = None
    device_type: str = "v100-16gb"

    def __post_init__(self):
        if self.memory_budget_bytes is None:
            object.__setattr__(self, "memory_budget_bytes", default_memory_budget_bytes(self.device_type))
        if self.num_devices < 1:
            raise ValueError(f"cluster: num_devices must be >= 1, got {self.num_devices}")
        if self.devices_per_node < 1:
            raise ValueError(f"cluster: devices_per_node must be >= 1, got {self.devices_per_node}")
        if self.memory_budget_bytes <= 0:
            raise ValueError(f"cluster: memory_budget_bytes must be > 0, got {self.memory_budget_bytes}")

    @property
    def num_nodes(self) -> int:
        return -(-self.num_devices // self.devices_per_node)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ClusterSpec":
        return cls(**data)


def check_budget_fits_device(device_type: str, budget_bytes: int) -> None:
    """Refuse a per-device memory budget above a built-in device's own memory (a plan made under it
    could never load); a device whose memory is unknown takes any budget."""
    try:
        memory = get_device(device_type).memory_bytes
    except (KeyError, ValueError):
        return
    if budget_bytes > memory:
        raise ValueError(f"memory budget {budget_bytes / GiB:g} GiB is more than {device_type}'s "
                         f"{memory / GiB:g} GiB of memory; give at most that (--memory-budget-gib), or "
                         f"leave it out for the default {DEFAULT_MEMORY_FRACTION:.2%}")


def cluster_spec(num_devices: int, device_type: str = "v100-16gb", *, devices_per_node: int | None = None,
                 memory_budget_gib: float | None = None) -> ClusterSpec:
    """The one way commands build a cluster from user units: GiB budget (None: the device's default
    share, ``DEFAULT_MEMORY_FRACTION``; never more than a built-in device's memory) and
    ``devices_per_node`` (None: 8, or fewer devices in one node)."""
    if memory_budget_gib is not None:
        check_budget_fits_device(device_type, int(memory_budget_gib * GiB))
    return ClusterSpec(
        num_devices=num_devices,
        devices_per_node=devices_per_node if devices_per_node is not None else min(8, max(num_devices, 1)),
        memory_budget_bytes=None if memory_budget_gib is None else int(memory_budget_gib * GiB),
        device_type=device_type,
    )
