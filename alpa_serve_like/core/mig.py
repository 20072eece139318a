"""NVIDIA MIG: the profiles of a partitionable GPU, where instances may sit, and the valid geometries.

A MIG-capable GPU (A100, H100, H200) has 7 compute slices and 8 memory slices. An instance of
profile ``Kg.Mgb`` takes ``K`` compute slices and a fixed run of memory slices starting at one of a
few allowed offsets. The rule set used here is the one NVIDIA's MIG user guide gives for the A100
("A100 supported profiles" placement table; H100/H200 have the same shape):

======  ==================  ==========================
slices  allowed starts      memory slices taken
======  ==================  ==========================
1g      0, 1, 2, 3, 4, 5, 6 1
2g      0, 2, 4             2
3g      0, 4                4
4g      0                   4
7g      0                   8
======  ==================  ==========================

Instances may not share a memory slice, and their compute slices sum to at most 7. A *geometry* is
the multiset of profiles on one GPU; it is valid when some placement of its instances obeys these
rules. Lists of geometries published elsewhere disagree (some omit ``3g+2g+2g``, which the rules
allow with the 3g at offset 4); here they are derived from the rules, never listed by hand.

A slice is also a device: ``slice_device("a100-80gb/3g.40gb")`` is a ``DeviceSpec`` with the
slice's share of the GPU's compute, bandwidth and memory.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import lru_cache

from alpa_serve_like.core.hardware import BUILTIN_DEVICES, DeviceSpec

COMPUTE_SLICES = 7
MEMORY_SLICES = 8

# (compute slices, allowed memory-slice starts, memory slices taken): the placement rule table.
PLACEMENT_RULES: dict[int, tuple[tuple[int, ...], int]] = {
    1: ((0, 1, 2, 3, 4, 5, 6), 1),
    2: ((0, 2, 4), 2),
    3: ((0, 4), 4),
    4: ((0,), 4),
    7: ((0,), 8),
}

# Profile memory sizes per GPU type, as NVIDIA names them (GB in the name, per instance size).
# Sources: NVIDIA MIG user guide, "Supported MIG profiles" (A100-40GB/80GB, H100-80GB, H200-141GB).
PROFILE_MEMORY_GB: dict[str, dict[int, int]] = {
    "a100-40gb": {1: 5, 2: 10, 3: 20, 4: 20, 7: 40},
    "a100-80gb": {1: 10, 2: 20, 3: 40, 4: 40, 7: 80},
    "h100-80gb": {1: 10, 2: 20, 3: 40, 4: 40, 7: 80},
    "h200-141gb": {1: 18, 2: 35, 3: 71, 4: 71, 7: 141},
}


@dataclass(frozen=True, order=True)
class MigProfile:
    """One MIG instance profile of one GPU type, e.g. ``a100-80gb`` / ``3g.40gb``."""

    gpu: str
    compute_slices: int
    memory_gb: int

    @property
    def name(self) -> str:
        return f"{self.compute_slices}g.{self.memory_gb}gb"

    @property
    def device_name(self) -> str:
        """The device-type name of an instance of this profile: ``a100-80gb/3g.40gb``."""
        return f"{self.gpu}/{self.name}"

    @property
    def memory_slices(self) -> int:
        return PLACEMENT_RULES[self.compute_slices][1]


def profiles(gpu: str) -> tuple[MigProfile, ...]:
    """The MIG profiles of ``gpu``, smallest first."""
    table = PROFILE_MEMORY_GB.get(gpu.lower())
    if table is None:
        raise KeyError(f"GPU {gpu!r} has no MIG profiles here (known: {', '.join(sorted(PROFILE_MEMORY_GB))})")
    return tuple(MigProfile(gpu.lower(), k, table[k]) for k in sorted(table))


def parse_profile(device_name: str) -> MigProfile:
    """``"a100-80gb/3g.40gb"`` -> its MigProfile; the memory part must match the GPU's table."""
    gpu, sep, name = device_name.lower().partition("/")
    if not sep:
        raise ValueError(f"{device_name!r} is not a MIG device name (expected GPU/Kg.Mgb, e.g. a100-80gb/3g.40gb)")
    for p in profiles(gpu):
        if p.name == name:
            return p
    known = ", ".join(p.name for p in profiles(gpu))
    raise KeyError(f"{gpu} has no MIG profile {name!r} (known: {known})")


def profile_by_slices(gpu: str, compute_slices: int) -> MigProfile:
    for p in profiles(gpu):
        if p.compute_slices == compute_slices:
            return p
    raise KeyError(f"{gpu} has no {compute_slices}g profile (sizes: {sorted(PLACEMENT_RULES)})")


# ---- geometries --------------------------------------------------------------------------------
Instance = tuple[int, int]
"""(compute slices, memory-slice start) of one placed instance."""


def _mask(inst: Instance) -> int:
    size, start = inst
    width = PLACEMENT_RULES[size][1]
    if start not in PLACEMENT_RULES[size][0]:
        raise ValueError(f"{size}g instance cannot start at memory slice {start} "
                         f"(allowed: {PLACEMENT_RULES[size][0]})")
    return ((1 << width) - 1) << start


def placement_is_valid(instances: tuple[Instance, ...]) -> bool:
    """Whether these placed instances obey the rules (allowed starts, no shared memory slice, <= 7 compute)."""
    used = 0
    for inst in instances:
        if inst[0] not in PLACEMENT_RULES or inst[1] not in PLACEMENT_RULES[inst[0]][0]:
            return False
        m = _mask(inst)
        if used & m:
            return False
        used |= m
    return sum(size for size, _ in instances) <= COMPUTE_SLICES


@lru_cache(maxsize=None)
def valid_placements() -> tuple[tuple[Instance, ...], ...]:
    """Every non-empty set of placed instances that obeys the rules (instances sorted by start)."""
    slots = sorted((start, size) for size, (starts, _) in PLACEMENT_RULES.items() for start in starts)
    out = []
    for r in range(1, len(slots) + 1):
        for combo in itertools.combinations(slots, r):
            inst = tuple((size, start) for start, size in combo)
            if placement_is_valid(inst):
                out.append(inst)
    return tuple(out)


@lru_cache(maxsize=None)
def valid_geometries(maximal_only: bool = False) -> tuple[tuple[int, ...], ...]:
    """Multisets of instance sizes (descending tuples) that fit on one GPU.

    ``maximal_only`` keeps those to which no further instance can be added (the partitionings worth
    configuring when the whole GPU is to be used).
    """
    geos = {tuple(sorted((s for s, _ in p), reverse=True)) for p in valid_placements()}
    if maximal_only:
        geos = {g for g in geos
                if not any(geometry_fits(tuple(sorted(g + (k,), reverse=True))) for k in PLACEMENT_RULES)}
    return tuple(sorted(geos, reverse=True))


def geometries_of_sizes(sizes: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Valid geometries using only instance ``sizes`` to which no instance of those sizes can be
    added: the full-GPU partitionings when only some profiles are allowed."""
    allowed = set(sizes)
    return tuple(g for g in valid_geometries() if set(g) <= allowed
                 and not any(geometry_fits(tuple(sorted(g + (k,), reverse=True))) for k in allowed))


def geometry_fits(sizes: tuple[int, ...]) -> bool:
    """Whether instances of these sizes can all be placed on one GPU."""
    return place_geometry(sizes) is not None


@lru_cache(maxsize=None)
def place_geometry(sizes: tuple[int, ...]) -> tuple[Instance, ...] | None:
    """A valid placement of instances with these sizes, or None (largest instances placed first)."""
    order = sorted(sizes, reverse=True)

    def search(i: int, used: int, placed: tuple[Instance, ...]):
        if i == len(order):
            return placed
        size = order[i]
        if size not in PLACEMENT_RULES:
            return None
        for start in PLACEMENT_RULES[size][0]:
            m = _mask((size, start))
            if not used & m:
                found = search(i + 1, used | m, placed + ((size, start),))
                if found is not None:
                    return found
        return None

    if sum(order) > COMPUTE_SLICES:
        return None
    return search(0, 0, ())


# ---- slices as devices -------------------------------------------------------------------------
def slice_device(device_name: str) -> DeviceSpec:
    """The DeviceSpec of one MIG instance: its share of the whole GPU's compute, bandwidth, memory.

    Compute scales with compute slices / 7 and bandwidth with memory slices / 8 (each memory slice
    brings its share of L2 and DRAM channels); memory is the profile's. An instance has no
    NVLink peer access, so groups never span instances: links keep the GPU's numbers but are unused.
    """
    p = parse_profile(device_name)
    whole = BUILTIN_DEVICES.get(p.gpu)
    if whole is None:
        raise KeyError(f"MIG device {device_name!r}: whole GPU {p.gpu!r} is not a built-in device "
                       f"(known: {', '.join(sorted(BUILTIN_DEVICES))})")
    return replace(
        whole,
        name=p.device_name,
        peak_fp16_flops=whole.peak_fp16_flops * p.compute_slices / COMPUTE_SLICES,
        mem_bandwidth_bytes_per_s=whole.mem_bandwidth_bytes_per_s * p.memory_slices / MEMORY_SLICES,
        memory_bytes=p.memory_gb * 10**9,
    )


def compute_slices_of(device_type: str) -> int:
    """Compute slices a device of this type has: its profile's for a MIG slice, 7 for a whole GPU
    (or any device without a ``/``), so slices and whole GPUs order by size for ELSA."""
    return parse_profile(device_type).compute_slices if "/" in device_type else COMPUTE_SLICES
