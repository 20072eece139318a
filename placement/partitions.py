"""Group partitions: the ways mp-search may split a cluster into model-parallel groups.

As in AlpaServe, group sizes are powers of two and every regular group of a candidate has the same
shape (op x pp); devices left over when the group size does not divide the cluster form smaller
power-of-two pure-pipeline groups. Intra-op parallelism stays inside one node (op <= devices per
node) and a group larger than a node spans whole nodes.
"""
from __future__ import annotations

from typing import Iterable

from alpa_serve_like.core.parallel_config import ParallelConfig

Partition = tuple[ParallelConfig, ...]


def _powers_of_two_upto(n: int) -> list[int]:
    out, s = [], 1
    while s <= n:
        out.append(s)
        s *= 2
    return out


def shapes_of_size(size: int, max_op: int, max_pp: int, devices_per_node: int) -> list[ParallelConfig]:
    """Configs (1, op, pp) with op * pp == size, op <= min(max_op, devices_per_node), pp <= max_pp."""
    out = []
    for op in _powers_of_two_upto(size):
        pp = size // op
        if op * pp == size and op <= min(max_op, devices_per_node) and pp <= max_pp:
            out.append(ParallelConfig(1, op, pp))
    return out


def _fits_nodes(size: int, devices_per_node: int) -> bool:
    """A group must not straddle a node boundary partially: it fits in one node or spans whole nodes."""
    if size <= devices_per_node:
        return devices_per_node % size == 0
    return size % devices_per_node == 0


def remainder_groups(num_devices: int, max_op: int, max_pp: int) -> list[ParallelConfig]:
    """Pipeline groups for ``num_devices`` left-over devices, one per set bit, largest first."""
    out = []
    for size in reversed(_powers_of_two_upto(num_devices)):
        if num_devices & size:
            pp = min(size, max_pp)
            op = size // pp
            if op > max_op:  # cannot be a single group under the limits: split it in two
                out.extend(remainder_groups(size // 2, max_op, max_pp) * 2)
            else:
                out.append(ParallelConfig(1, op, pp))
    return out


def enumerate_partitions(
    num_devices: int,
    devices_per_node: int,
    max_op: int = 8,
    max_pp: int = 16,
    allowed: Iterable[ParallelConfig] | None = None,
) -> list[Partition]:
    """Candidate partitions, each a tuple of group configs covering all ``num_devices`` devices.

    ``allowed``: when given, regular-group shapes outside it are skipped (e.g. configs no model is
    profiled for). Candidates are ordered by group size, then by op; duplicates are removed.
    """
    allowed_set = set(allowed) if allowed is not None else None
    seen: dict[Partition, None] = {}
    for size in _powers_of_two_upto(num_devices):
        if not _fits_nodes(size, devices_per_node):
            continue
        count, rest = divmod(num_devices, size)
        for shape in shapes_of_size(size, max_op, max_pp, devices_per_node):
            if allowed_set is not None and shape not in allowed_set:
                continue
            tail = remainder_groups(rest, max_op, max_pp)
            if allowed_set is not None and any(c not in allowed_set for c in tail):
                tail = [ParallelConfig(1, 1, 1)] * rest  # fall back to single devices
            seen[tuple([shape] * count + tail)] = None
    return list(seen)


def describe(partition: Partition) -> str:
    """``8x(op1,pp4)`` style text for logs and tables."""
    parts: list[tuple[ParallelConfig, int]] = []
    for c in partition:
        if parts and parts[-1][0] == c:
            parts[-1] = (c, parts[-1][1] + 1)
        else:
            parts.append((c, 1))
    return " ".join(f"{n}x(op{c.op},pp{c.pp})" for c, n in parts)
