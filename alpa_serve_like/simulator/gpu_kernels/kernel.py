"""Kernel: one unit of GPU work of a job, and the share of the device its first wave holds.

A job is a tuple of kernels run in order (a host-device copy counts as one kernel with no blocks:
it uses a copy engine, not the SMs). While a kernel runs, its resident blocks hold threads,
registers, shared memory and block slots; a kernel with more blocks than the device holds at once
runs in waves and holds a full wave for its whole duration.
"""
from __future__ import annotations

from dataclasses import dataclass

from alpa_serve_like.core.gpu_sm import GpuSmSpec


@dataclass(frozen=True)
class Kernel:
    """One kernel launch: how long it runs alone and the shape of its blocks."""

    duration_s: float
    blocks: int
    """Thread blocks in the grid (0 = a copy, which uses no SM resources)."""
    threads_per_block: int = 0
    registers_per_thread: int = 0
    shared_mem_bytes: int = 0
    """Shared memory per block."""
    name: str = ""

    def __post_init__(self):
        if not self.duration_s >= 0 or self.blocks < 0:
            raise ValueError(f"kernel {self.name!r}: duration_s must be >= 0 and blocks >= 0, "
                             f"got {self.duration_s!r}, {self.blocks!r}")
        if self.blocks and self.threads_per_block <= 0:
            raise ValueError(f"kernel {self.name!r}: {self.blocks} blocks need threads_per_block > 0")


@dataclass(frozen=True)
class Footprint:
    """Device-wide resources a running kernel holds (summed over its resident blocks)."""

    blocks: int = 0
    threads: int = 0
    registers: int = 0
    shared_mem_bytes: int = 0

    @property
    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.blocks, self.threads, self.registers, self.shared_mem_bytes


def footprint(kernel: Kernel, spec: GpuSmSpec) -> Footprint:
    """Resources of ``kernel``'s first wave on ``spec`` (one wave at most: the rest run in its slots)."""
    if kernel.blocks == 0:
        return Footprint()
    per_sm = spec.blocks_per_sm(kernel.threads_per_block, kernel.registers_per_thread, kernel.shared_mem_bytes)
    if per_sm == 0:
        raise ValueError(f"kernel {kernel.name!r}: one block ({kernel.threads_per_block} threads, "
                         f"{kernel.registers_per_thread} registers/thread, {kernel.shared_mem_bytes} B shared) "
                         f"does not fit one SM of {spec.name}; shrink the block")
    resident = spec.resident_blocks(kernel.blocks, kernel.threads_per_block, kernel.registers_per_thread,
                                    kernel.shared_mem_bytes)
    return Footprint(resident, resident * kernel.threads_per_block,
                     resident * kernel.threads_per_block * kernel.registers_per_thread,
                     resident * kernel.shared_mem_bytes)


def capacity(spec: GpuSmSpec) -> Footprint:
    """All the SM resources of the device (fragmentation across SMs is not modelled)."""
    n = spec.num_sms
    return Footprint(n * spec.max_blocks_per_sm, n * spec.max_threads_per_sm, n * spec.registers_per_sm,
                     n * spec.shared_mem_per_sm_bytes)
