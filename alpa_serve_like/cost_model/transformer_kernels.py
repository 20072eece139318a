"""The kernels of one pipeline stage of this project's transformers, as ``LayerShape`` values.

A stage (layers ``first`` .. ``last - 1`` of a zoo ``ModelSpec``, batch 1, one device) becomes the
kernel sequence ``cnn_kernels.model_kernels`` costs, so the kernel-level GPU model can run
transformer stages next to the CNNs. A GEMM of M rows, N columns and depth K is written as a 1x1
convolution over an (K, M, 1) input to an (N, M, 1) output; per-head attention GEMMs use one
group per head, and the second operand of an activation-by-activation GEMM is counted as its
"weights" so its bytes are read. Per layer (estimated, eager style, no fused attention): QKV
projection, scores (Q K^T), softmax, scores x V, output projection, layer norm, FFN in (with the
activation fused), FFN out, layer norm. MoE FFNs run one group per expert on
``seq * top_k / num_experts`` tokens each (balanced routing). The first stage adds the embedding
gather; the output head is not part of a stage here. Check: the whole of BERT-1.3B at batch 1
sums to 125 ms on V100 against 98.9 ms measured by AlpaServe (``data/alpaserve_v100_bert-1.3b_
stage_latency.json``; tests/unit/test_cnn_kernels.py).
"""
from __future__ import annotations

import math

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.cost_model.cnn_layers import LayerShape


def _gemm(name: str, m: int, n: int, k: int, groups: int = 1, weights: int | None = None) -> LayerShape:
    return LayerShape(name, "conv", (k * groups, m, 1), (n * groups, m, 1), (1, 1), groups,
                      k * n * groups if weights is None else weights)


def _elementwise(name: str, channels: int, rows: int) -> LayerShape:
    return LayerShape(name, "pool", (channels, rows, 1), (channels, rows, 1), (1, 1), 1, 0)


def transformer_stage_layers(spec: ModelSpec, first: int, last: int) -> list[LayerShape]:
    """Kernel-launching layers of layers ``[first, last)`` of ``spec`` (batch 1, one device)."""
    if not 0 <= first < last <= spec.num_layers:
        raise ValueError(f"model {spec.name!r}: layer range [{first}, {last}) is not inside "
                         f"[0, {spec.num_layers})")
    s, h, a = spec.seq_len, spec.hidden_size, spec.num_heads
    d, f = h // a, spec.ffn_mult * h
    out = [_elementwise("embedding", h, s)] if first == 0 else []
    for i in range(first, last):
        p = f"layer{i}."
        out += [
            _gemm(p + "qkv", s, 3 * h, h),
            _gemm(p + "scores", s, s, d, a, weights=s * h),       # K^T is the second operand
            _elementwise(p + "softmax", a * s, s),
            _gemm(p + "context", s, d, s, a, weights=s * h),      # V is the second operand
            _gemm(p + "out_proj", s, h, h),
            _elementwise(p + "norm1", h, s),
        ]
        if spec.is_moe_layer[i]:
            e = spec.num_experts
            rows = max(1, math.ceil(s * spec.top_k / e))
            out += [_gemm(p + "router", s, e, h), _gemm(p + "experts_in", rows, f, h, e),
                    _gemm(p + "experts_out", rows, h, f, e)]
        else:
            out += [_gemm(p + "ffn_in", s, f, h), _gemm(p + "ffn_out", s, h, f)]
        out.append(_elementwise(p + "norm2", h, s))
    return out
