"""Per-stage memory of a transformer: weights and peak activations on each device of a stage.

Weights: a stage's layers split ``1/op`` over its devices (MoE experts included: every expert lives
on exactly one device of the group), the embedding in stage 0 and the head in the last stage. With
``pp > 1`` the head needs its own copy of the vocabulary matrix tied to the embedding.

Activations (inference, no autograd): a stage keeps its input and output buffers plus the largest
set of intermediates one block holds at a time -- the attention scores and probabilities, the FFN
inner activation, or the head's logits.
"""
from __future__ import annotations

import math

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.cost_model.transformer import head_params


def stage_weight_bytes(spec: ModelSpec, bounds: list[tuple[int, int]], op: int) -> tuple[int, ...]:
    """Weight bytes on each device of each stage."""
    pp = len(bounds)
    out = []
    for s, (start, end) in enumerate(bounds):
        params = sum(spec.layer_params(i) for i in range(start, end))
        if s == 0:
            params += spec.embedding_params
        if s == pp - 1:
            params += head_params(spec, tied_copy=pp > 1)
        out.append(int(math.ceil(params / op)) * spec.dtype_bytes)
    return tuple(out)


def _layer_peak_elems(spec: ModelSpec, layer: int, batch: int, op: int) -> float:
    h, s = spec.hidden_size, spec.seq_len
    m = batch * s
    # Attention: Q, K, V and context, plus scores and probabilities (one of each alive at once).
    attention = 4 * m * h / op + 2 * batch * (spec.num_heads / op) * s * s
    if spec.is_moe_layer[layer]:
        routed = m * spec.top_k / op
        ffn = routed * spec.ffn_mult * h + 2 * routed * h + m * spec.num_experts
    else:
        ffn = m * spec.ffn_mult * h / op
    return max(attention, ffn)


def stage_act_bytes(spec: ModelSpec, bounds: list[tuple[int, int]], op: int, batch: int) -> tuple[int, ...]:
    """Peak activation bytes on each device of each stage for a batch of ``batch`` sequences."""
    m = batch * spec.seq_len
    io_elems = 3 * m * spec.hidden_size  # stage input, residual stream, block output
    kinds = {moe: spec.is_moe_layer.index(moe) for moe in set(spec.is_moe_layer)}
    peak_by_kind = {moe: _layer_peak_elems(spec, i, batch, op) for moe, i in kinds.items()}
    logits = m * spec.vocab_size / op
    out = []
    for s, (start, end) in enumerate(bounds):
        peak = max(peak_by_kind[spec.is_moe_layer[i]] for i in range(start, end))
        if s == len(bounds) - 1:
            peak = max(peak, logits)
        out.append(int(math.ceil(io_elems + peak)) * spec.dtype_bytes)
    return tuple(out)
