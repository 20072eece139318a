"""Per-stage latency of a transformer on a device, from the work counts in ``transformer.py``.

One block (layer, embedding or head) on one device takes

    max(GEMM FLOPs / achieved FLOP/s, GEMM bytes / achieved bandwidth)   (roofline of its GEMMs)
  + elementwise bytes / achieved bandwidth                               (separate memory-bound kernels)
  + collectives over the stage's op devices                              (ring all-reduce, all-to-all)
  + a fixed per-layer overhead.

GEMMs overlap their own loads with their math, hence the max; norms, softmax and residual adds are
separate kernels that run after them, hence the sum. A stage adds the hand-off of its input
activation from the previous stage (NVLink inside a node, the node's network card across nodes)
and a fixed launch overhead.
"""
from __future__ import annotations

from alpa_serve_like.core.hardware import DeviceSpec
from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.layer_partition import balance_layers
from alpa_serve_like.cost_model.params import CostModelParams
from alpa_serve_like.cost_model.transformer import Collective, Work, embedding_work, head_work, layer_work


def stage_bounds(spec: ModelSpec, pp: int) -> list[tuple[int, int]]:
    """``[start, end)`` layer ranges of the ``pp`` stages: embedding in stage 0, head in the last.

    ``balance_layers`` over each layer's forward FLOPs for one sequence, with the output head's
    FLOPs charged to the last layer: a BERT-1.3B MLM head costs as much as ~2 layers, and leaving it
    out would make the last stage the bottleneck. Depends only on the spec, so every device and the
    torch stage builder (``models.stage_layer_ranges``) cut the same layers.
    """
    if pp > spec.num_layers:
        raise ValueError(f"model {spec.name!r}: cannot split {spec.num_layers} layers into pp={pp} "
                         f"stages; use pp <= {spec.num_layers}")
    costs = [layer_work(spec, i, 1, 1).flops for i in range(spec.num_layers)]
    costs[-1] += head_work(spec, 1, 1).flops
    return balance_layers(costs, pp)


def gemm_time_s(flops: float, rows: float, device: DeviceSpec, params: CostModelParams) -> float:
    """A GEMM of ``rows`` rows: full efficiency above the knee, no faster than the knee below it."""
    if flops <= 0:
        return 0.0
    knee = params.gemm_knee_rows(device)
    p = params.gemm_knee_sharpness
    fill_penalty = (1.0 + (knee / max(rows, 1e-9)) ** p) ** (1.0 / p)
    return flops * fill_penalty / (device.peak_fp16_flops * params.gemm_efficiency)


def _link(op: int, device: DeviceSpec, params: CostModelParams) -> tuple[float, float]:
    """Achieved per-device bandwidth and per-step latency of a collective group of ``op`` devices."""
    if op <= params.devices_per_node:
        return (device.intra_node_link_bytes_per_s * params.intra_link_efficiency,
                device.intra_node_link_latency_s)
    return (device.inter_node_link_bytes_per_s * params.inter_link_efficiency,
            device.inter_node_link_latency_s)


def collective_time_s(coll: Collective, op: int, device: DeviceSpec, params: CostModelParams) -> float:
    """Ring algorithms: an all-reduce moves ``2(op-1)/op`` of the buffer in ``2(op-1)`` steps,
    all-to-all and all-gather ``(op-1)/op`` in ``op-1`` steps."""
    if op <= 1:
        return 0.0
    bandwidth, step_latency = _link(op, device, params)
    steps = 2 * (op - 1) if coll.kind == "all_reduce" else op - 1
    moved = coll.payload_bytes * steps / op
    return moved / bandwidth + steps * step_latency + params.collective_overhead_s


def work_time_s(work: Work, op: int, device: DeviceSpec, params: CostModelParams) -> float:
    """Seconds one block takes on one device, including its collectives."""
    bandwidth = device.mem_bandwidth_bytes_per_s * params.mem_efficiency
    compute = sum(gemm_time_s(g.flops, g.rows, device, params) for g in work.gemms)
    roofline = max(compute, work.gemm_bytes / bandwidth)
    comm = sum(collective_time_s(c, op, device, params) for c in work.collectives)
    return roofline + work.elementwise_bytes / bandwidth + comm + params.layer_overhead_s


def handoff_time_s(spec: ModelSpec, stage: int, batch: int, op: int, device: DeviceSpec,
                   params: CostModelParams) -> float:
    """Receiving stage ``stage``'s input activation from stage ``stage - 1``.

    Stage ``s`` occupies devices ``[s*op, (s+1)*op)``, filled node by node. Each receiver gets
    ``1/op`` of the activation. Inside a node that travels over the receiver's NVLink; across nodes
    the whole activation crosses the sending node's network card (``devices_per_node`` per-device
    shares), or several cards in parallel when the stage spans nodes.
    """
    if stage == 0:
        return 0.0
    total_bytes = spec.dtype_bytes * batch * spec.seq_len * spec.hidden_size
    dpn = params.devices_per_node
    first_device = stage * op
    if op <= dpn and first_device // dpn == (first_device - 1) // dpn:
        bandwidth = device.intra_node_link_bytes_per_s * params.intra_link_efficiency
        return total_bytes / op / bandwidth + device.intra_node_link_latency_s
    cards = max(1, op // dpn)
    bandwidth = device.inter_node_link_bytes_per_s * dpn * cards * params.inter_link_efficiency
    return total_bytes / bandwidth + device.inter_node_link_latency_s


def stage_latencies_s(spec: ModelSpec, device: DeviceSpec, params: CostModelParams, op: int, pp: int,
                      batch: int, bounds: list[tuple[int, int]] | None = None) -> tuple[float, ...]:
    """Predicted seconds each of the ``pp`` stages takes for one batch of ``batch`` sequences."""
    if batch < 1:
        raise ValueError(f"batch size must be >= 1, got {batch}")
    bounds = bounds if bounds is not None else stage_bounds(spec, pp)
    if len(bounds) != pp:
        raise ValueError(f"{len(bounds)} stage bounds given for pp={pp}")
    # Layers of the same kind cost the same: time each kind once.
    kinds = {spec.is_moe_layer[i] for i in range(spec.num_layers)}
    per_kind = {}
    for moe in kinds:
        index = spec.is_moe_layer.index(moe)
        per_kind[moe] = work_time_s(layer_work(spec, index, batch, op), op, device, params)
    latencies = []
    for s, (start, end) in enumerate(bounds):
        t = sum(per_kind[spec.is_moe_layer[i]] for i in range(start, end))
        if s == 0:
            t += work_time_s(embedding_work(spec, batch, op), op, device, params)
        if s == pp - 1:
            t += work_time_s(head_work(spec, batch, op), op, device, params)
        t += handoff_time_s(spec, s, batch, op, device, params) + params.stage_overhead_s
        latencies.append(t)
    return tuple(latencies)
