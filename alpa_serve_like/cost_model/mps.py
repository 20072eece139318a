"""MPS concurrency on one MIG slice: the slowdown of each client when 1-4 clients share it.

Not calibrated: no MPS measurements are at hand. The factor follows from the slice latency model
(``mig_slices``) under one stated assumption: concurrent clients share the slice's throughput
(the compute term of every client's batch grows by the number of clients) while each client's
latency floor, set by its own kernels' limited parallelism, overlaps with the others' work. So a
small batch that leaves the slice idle slows down little, and a large one by up to the number of
clients. The fixed overhead (launch, copies) is assumed not to overlap, which keeps the estimate
on the pessimistic side. Replace with measured factors where a GPU is at hand.
"""
from __future__ import annotations

from alpa_serve_like.cost_model.mig_slices import (
    CALIBRATED_SCALING,
    NetworkSliceModel,
    SliceScaling,
    network_model,
)

MAX_MPS_CLIENTS = 4


def mps_latency_s(network: str | NetworkSliceModel, compute_slices: int, batch_size: int, clients: int,
                  seq_length: int | None = None, scaling: SliceScaling = CALIBRATED_SCALING) -> float:
    """Latency of one client's batch while ``clients`` equal clients share the slice through MPS."""
    if not 1 <= clients <= MAX_MPS_CLIENTS:
        raise ValueError(f"MPS clients must be 1..{MAX_MPS_CLIENTS}, got {clients!r}")
    net = network if isinstance(network, NetworkSliceModel) else network_model(network)
    p = scaling.smoothness
    compute = clients * net.per_unit_s * net.work_units(batch_size, seq_length) / scaling.speed(compute_slices)
    return net.fixed_s + (compute**p + net.floor_s**p) ** (1.0 / p)


def mps_slowdown(network: str | NetworkSliceModel, compute_slices: int, batch_size: int, clients: int,
                 seq_length: int | None = None, scaling: SliceScaling = CALIBRATED_SCALING) -> float:
    """``mps_latency_s`` over the latency with the slice to itself (>= 1, at most ``clients``)."""
    alone = mps_latency_s(network, compute_slices, batch_size, 1, seq_length, scaling)
    return mps_latency_s(network, compute_slices, batch_size, clients, seq_length, scaling) / alone
