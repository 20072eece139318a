"""GpuSmSpec: the streaming-multiprocessor resources of one GPU, for kernel-level simulation.

The kernel-level model (``alpa_serve_like.simulator.gpu_kernels``) lets kernels run at once while
their thread blocks fit in these resources; the roofline (``cost_model.kernel_roofline``) costs a
kernel from the peaks. Sources: CUDA C++ Programming Guide, "Technical Specifications per Compute
Capability" (threads, blocks, registers and shared memory per SM for CC 7.0, 7.5, 8.0, 9.0);
NVIDIA Tesla T4 datasheet (40 SMs, 65 TFLOP/s fp16 tensor, 320 GB/s, PCIe 3.0 x16); V100, A100 and
H100 (SXM5) architecture whitepapers (80 / 108 / 132 SMs; 125 / 312 / 989 TFLOP/s dense fp16
tensor; 900 / 1555 / 3350 GB/s); PCI-SIG per-direction x16 rates (3.0: 15.75 GB/s, 4.0: 31.5 GB/s,
5.0: 63 GB/s).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

KiB = 1024
GB = 1e9


@dataclass(frozen=True)
class GpuSmSpec:
    """Per-SM limits and device peaks of one GPU model."""

    name: str
    num_sms: int
    max_threads_per_sm: int
    max_blocks_per_sm: int
    registers_per_sm: int
    """32-bit registers."""
    shared_mem_per_sm_bytes: int
    max_threads_per_block: int
    peak_fp16_flops: float
    """Dense fp16 tensor-core FLOP/s."""
    mem_bandwidth_bytes_per_s: float
    host_link_bytes_per_s: float
    """Host-device copy bandwidth per direction (PCIe)."""

    def __post_init__(self):
        for field, value in asdict(self).items():
            if field != "name" and not (value > 0):
                raise ValueError(f"GPU {self.name!r}: {field} must be > 0, got {value!r}")

    def blocks_per_sm(self, threads_per_block: int, registers_per_thread: int, shared_mem_bytes: int) -> int:
        """How many blocks of this shape one SM holds at once (0 if one block does not fit)."""
        if threads_per_block > self.max_threads_per_block:
            return 0
        limits = [self.max_blocks_per_sm, self.max_threads_per_sm // threads_per_block]
        if registers_per_thread:
            limits.append(self.registers_per_sm // (registers_per_thread * threads_per_block))
        if shared_mem_bytes:
            limits.append(self.shared_mem_per_sm_bytes // shared_mem_bytes)
        return max(0, min(limits))

    def resident_blocks(self, blocks: int, threads_per_block: int, registers_per_thread: int,
                        shared_mem_bytes: int) -> int:
        """Blocks of a grid of ``blocks`` that the device holds at once (its first wave)."""
        return min(blocks, self.blocks_per_sm(threads_per_block, registers_per_thread, shared_mem_bytes)
                   * self.num_sms)

    def wave_share(self, blocks: int, threads_per_block: int, registers_per_thread: int,
                   shared_mem_bytes: int) -> float:
        """Share of the device a grid's first wave holds: its scarcest resource's used fraction.

        The kernel-level model runs kernels side by side while their waves fit, so a kernel's
        duration must assume it gets only this share of the device's compute and bandwidth.
        """
        resident = self.resident_blocks(blocks, threads_per_block, registers_per_thread, shared_mem_bytes)
        n = self.num_sms
        return max(resident / (n * self.max_blocks_per_sm),
                   resident * threads_per_block / (n * self.max_threads_per_sm),
                   resident * threads_per_block * registers_per_thread / (n * self.registers_per_sm),
                   resident * shared_mem_bytes / (n * self.shared_mem_per_sm_bytes))


GPU_SM_SPECS: dict[str, GpuSmSpec] = {
    s.name: s
    for s in (
        GpuSmSpec("t4", 40, 1024, 16, 65536, 64 * KiB, 1024, 65e12, 320 * GB, 15.75 * GB),
        GpuSmSpec("v100", 80, 2048, 32, 65536, 96 * KiB, 1024, 125e12, 900 * GB, 15.75 * GB),
        GpuSmSpec("a100", 108, 2048, 32, 65536, 164 * KiB, 1024, 312e12, 1555 * GB, 31.5 * GB),
        GpuSmSpec("h100", 132, 2048, 32, 65536, 228 * KiB, 1024, 989e12, 3350 * GB, 63 * GB),
    )
}


def get_gpu_sm_spec(name: str) -> GpuSmSpec:
    """The built-in GPU called ``name`` (case-insensitive)."""
    spec = GPU_SM_SPECS.get(name.lower())
    if spec is None:
        raise KeyError(f"unknown GPU {name!r} for kernel-level simulation (known: {', '.join(GPU_SM_SPECS)})")
    return spec
