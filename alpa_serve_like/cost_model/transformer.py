"""Work of one transformer layer, the embedding and the output head, per device, for a batch.

Counts only; turning work into seconds is ``latency.py``'s job. Conventions:

* ``m = batch * seq_len`` tokens go through every layer at once (a full forward pass, as in
  AlpaServe's BERT/MoE serving; no KV cache).
* Intra-op parallelism over ``op`` devices is Megatron-style: attention heads and the FFN inner
  dimension are split, so GEMM FLOPs and weights divide by ``op``, layer norms and residual adds
  are replicated, and each layer ends its attention and its FFN with an all-reduce of the ``m x h``
  activation. The embedding and output projection are split over the vocabulary.
* MoE FFN layers (GShard-style, ``ModelSpec.is_moe_layer``) shard the experts over the ``op``
  devices (expert parallelism): each token's hidden vector travels to its ``top_k`` experts and
  back (two all-to-alls), then an all-gather restores the replicated activation the next
  attention block expects. Routing is assumed balanced (``m * top_k / num_experts`` tokens per
  expert), i.e. capacity factor 1.
* Attention materialises the ``seq x seq`` score matrix per head (XLA/PyTorch eager style, no
  fused flash attention), which is what makes long sequences memory-hungry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alpa_serve_like.core.model_spec import ModelSpec

CollectiveKind = Literal["all_reduce", "all_to_all", "all_gather"]


@dataclass(frozen=True)
class Gemm:
    """One matrix multiply on one device: its FLOPs and its row count (tokens), which sets how
    well it fills the device (see ``CostModelParams.gemm_knee_ridge_multiple``)."""

    flops: float
    rows: float


@dataclass(frozen=True)
class Collective:
    """A collective over the ``op`` devices of a stage; ``payload_bytes`` is each device's buffer."""

    kind: CollectiveKind
    payload_bytes: float


@dataclass(frozen=True)
class Work:
    """What one block (a layer, the embedding or the head) does on one device of a stage."""

    gemms: tuple[Gemm, ...] = ()
    gemm_bytes: float = 0.0
    """Bytes the GEMM kernels move: weights read once plus their input and output activations."""
    elementwise_bytes: float = 0.0
    """Bytes moved by memory-bound kernels (norms, residual adds, softmax, activation functions)."""
    collectives: tuple[Collective, ...] = ()

    @property
    def flops(self) -> float:
        return sum(g.flops for g in self.gemms)


def _dense_ffn(spec: ModelSpec, m: float, op: int) -> tuple[list[Gemm], float, float]:
    h, f, d = spec.hidden_size, spec.ffn_mult, spec.dtype_bytes
    gemms = [Gemm(2 * m * h * f * h / op, m), Gemm(2 * m * f * h * h / op, m)]
    gemm_bytes = d * (2 * f * h * h / op + 2 * m * h + 2 * m * f * h / op)
    elementwise = d * 2 * m * f * h / op  # bias + GELU over the inner activation
    return gemms, gemm_bytes, elementwise


def _moe_ffn(spec: ModelSpec, m: float, op: int) -> tuple[list[Gemm], float, float, list[Collective]]:
    h, f, d = spec.hidden_size, spec.ffn_mult, spec.dtype_bytes
    e, k = spec.num_experts, spec.top_k
    tokens_per_expert = m * k / e
    routed = m * k / op  # token copies this device's experts process
    gemms = [
        Gemm(2 * m * h * e, m),  # router logits (replicated, tiny)
        Gemm(2 * routed * h * f * h, tokens_per_expert),
        Gemm(2 * routed * f * h * h, tokens_per_expert),
    ]
    # Every local expert's weights are read once, whatever its share of tokens.
    gemm_bytes = d * (e * 2 * f * h * h / op + 2 * routed * h + 2 * routed * f * h)
    elementwise = d * (2 * routed * f * h + 4 * routed * h + 2 * m * e)
    collectives = []
    if op > 1:
        collectives = [
            Collective("all_to_all", d * routed * h),  # dispatch
            Collective("all_to_all", d * routed * h),  # combine
            Collective("all_gather", d * m * h),
        ]
    return gemms, gemm_bytes, elementwise, collectives


def layer_work(spec: ModelSpec, layer: int, batch: int, op: int) -> Work:
    """Work of transformer layer ``layer`` on one of ``op`` devices for ``batch`` sequences."""
    h, s, d = spec.hidden_size, spec.seq_len, spec.dtype_bytes
    m = batch * s
    score_elems = batch * (spec.num_heads / op) * s * s
    gemms = [
        Gemm(2 * m * h * 3 * h / op, m),  # QKV projection
        Gemm(2 * m * s * h / op, m),  # Q K^T
        Gemm(2 * m * s * h / op, m),  # softmax(.) V
        Gemm(2 * m * h * h / op, m),  # output projection
    ]
    gemm_bytes = d * (4 * h * h / op + m * h + 3 * m * h / op  # QKV
                      + 2 * m * h / op + score_elems  # scores written
                      + score_elems + 2 * m * h / op  # probabilities and V read, context written
                      + m * h / op + m * h)  # output projection
    # Two layer norms (read + write), two residual adds (2 reads + write), softmax (read + write).
    elementwise = d * (4 * m * h + 6 * m * h + 2 * score_elems)
    collectives = [Collective("all_reduce", d * m * h)] if op > 1 else []
    if spec.is_moe_layer[layer]:
        ffn_gemms, ffn_bytes, ffn_elem, ffn_coll = _moe_ffn(spec, m, op)
    else:
        ffn_gemms, ffn_bytes, ffn_elem = _dense_ffn(spec, m, op)
        ffn_coll = [Collective("all_reduce", d * m * h)] if op > 1 else []
    return Work(
        gemms=tuple(gemms + ffn_gemms),
        gemm_bytes=gemm_bytes + ffn_bytes,
        elementwise_bytes=elementwise + ffn_elem,
        collectives=tuple(collectives + ffn_coll),
    )


def embedding_work(spec: ModelSpec, batch: int, op: int) -> Work:
    """Token + position embedding lookup (vocab-parallel), plus BERT's embedding layer norm."""
    h, d = spec.hidden_size, spec.dtype_bytes
    m = batch * spec.seq_len
    passes = 8 if spec.family == "bert" else 4  # gathers and adds; BERT adds type ids and a norm
    collectives = (Collective("all_reduce", d * m * h),) if op > 1 else ()
    return Work(elementwise_bytes=d * passes * m * h, collectives=collectives)


def head_work(spec: ModelSpec, batch: int, op: int) -> Work:
    """Output head: BERT's MLM transform (dense + GELU + norm) then the vocab projection; GPT/MoE's
    final norm then the vocab projection. Logits stay split over the vocabulary."""
    h, v, d = spec.hidden_size, spec.vocab_size, spec.dtype_bytes
    m = batch * spec.seq_len
    gemms = [Gemm(2 * m * h * v / op, m)]
    gemm_bytes = d * (v * h / op + m * h + m * v / op)
    elementwise = d * 2 * m * h
    if spec.family == "bert":
        gemms.append(Gemm(2 * m * h * h, m))
        gemm_bytes += d * (h * h + 2 * m * h)
        elementwise += d * 4 * m * h
    return Work(gemms=tuple(gemms), gemm_bytes=gemm_bytes, elementwise_bytes=elementwise)


def head_params(spec: ModelSpec, tied_copy: bool) -> int:
    """Parameters the head adds; ``tied_copy``: the vocab matrix shared with the embedding must be
    duplicated because the head sits in a different pipeline stage than the embedding."""
    h, v = spec.hidden_size, spec.vocab_size
    params = 2 * h + v  # final norm, output bias
    if spec.family == "bert":
        params += h * h + 3 * h  # MLM transform dense + its norm
    if tied_copy:
        params += v * h
    return params
