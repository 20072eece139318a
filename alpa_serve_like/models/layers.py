"""Transformer layers in plain torch: embeddings, attention, dense and mixture-of-experts FFN.

Parameter counts match ``ModelSpec`` exactly (see ``ModelSpec.layer_params``): separate q/k/v/out
projections with biases, an FFN of ``ffn_mult * hidden`` with biases, expert FFNs plus a bias-free
router for MoE layers, two LayerNorms per layer, token and position embeddings. BERT and MoE layers
are post-norm (the original BERT layout; GShard's MoE models swap the FFN of every other layer),
GPT layers pre-norm with causal attention.

Every block's ``forward`` returns its full output; under tensor parallelism (``tp.size > 1``) the
attention and FFN outputs are completed with one all-reduce each (see ``tensor_parallel``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.models.tensor_parallel import RowLinear, TensorParallel, column_linear
from alpa_serve_like.models.weights import WeightDraw


def _layer_norm(draw: WeightDraw, hidden: int) -> nn.LayerNorm:
    norm = nn.LayerNorm(hidden, device="meta")
    norm.weight = draw.param(draw.ones(hidden))
    norm.bias = draw.param(draw.zeros(hidden))
    return norm


class Embeddings(nn.Module):
    """Token plus learned position embeddings (replicated on every op rank)."""

    def __init__(self, spec: ModelSpec, draw: WeightDraw):
        super().__init__()
        self.max_seq_len = spec.seq_len
        self.vocab_size = spec.vocab_size
        self.token = nn.Embedding(spec.vocab_size, spec.hidden_size, device="meta")
        self.token.weight = draw.param(draw.normal(spec.vocab_size, spec.hidden_size))
        self.position = nn.Embedding(spec.seq_len, spec.hidden_size, device="meta")
        self.position.weight = draw.param(draw.normal(spec.seq_len, spec.hidden_size))

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        if token_ids.dtype != torch.int64 or token_ids.dim() != 2:
            raise ValueError(
                f"the first stage takes int64 token ids of shape [batch, seq], got "
                f"{token_ids.dtype} {tuple(token_ids.shape)}"
            )
        seq = token_ids.shape[1]
        if not 1 <= seq <= self.max_seq_len:
            raise ValueError(f"sequence length {seq} is outside 1..{self.max_seq_len} (the model's seq_len)")
        positions = torch.arange(seq, device=token_ids.device)
        return self.token(token_ids) + self.position(positions)[None]


class Attention(nn.Module):
    """Multi-head self-attention; under tensor parallelism each rank holds ``heads / op`` heads."""

    def __init__(self, spec: ModelSpec, draw: WeightDraw, tp: TensorParallel):
        super().__init__()
        h = spec.hidden_size
        self.causal = spec.family == "gpt"
        self.head_dim = h // spec.num_heads
        if spec.num_heads % tp.size:
            raise ValueError(
                f"model {spec.name!r}: num_heads {spec.num_heads} is not divisible by op {tp.size}"
            )
        self.local_heads = spec.num_heads // tp.size
        self.q = column_linear(draw, h, h, tp, "hidden_size")
        self.k = column_linear(draw, h, h, tp, "hidden_size")
        self.v = column_linear(draw, h, h, tp, "hidden_size")
        self.out = RowLinear(draw, h, h, tp, "hidden_size")
        self._tp = tp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, self.local_heads, self.head_dim).transpose(1, 2)

        o = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)),
                                           is_causal=self.causal)
        o = o.transpose(1, 2).reshape(b, s, self.local_heads * self.head_dim)
        return self._tp.all_reduce(self.out(o))


class FeedForward(nn.Module):
    """``fc2(gelu(fc1(x)))`` with inner size ``ffn_mult * hidden``; ``partial`` skips the all-reduce."""

    def __init__(self, spec: ModelSpec, draw: WeightDraw, tp: TensorParallel):
        super().__init__()
        h, inner = spec.hidden_size, spec.ffn_mult * spec.hidden_size
        self.fc1 = column_linear(draw, h, inner, tp, "ffn inner size")
        self.fc2 = RowLinear(draw, inner, h, tp, "ffn inner size")
        self._tp = tp

    def partial(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._tp.all_reduce(self.partial(x))


class MoEFeedForward(nn.Module):
    """Top-k mixture of expert FFNs with a learned linear router (GShard/Switch style).

    Each token goes to its ``top_k`` highest-probability experts; their outputs are mixed by the
    router probabilities renormalised over the chosen experts. No capacity limit: every routed
    token is processed, so the result does not depend on how the batch is split. Dispatch loops
    over experts and gathers the tokens routed to each, which is simple and exact; every op rank
    computes the same routing (replicated router, same input), shards every expert's FFN, and
    completes the mixed partial sums with a single all-reduce.
    """

    def __init__(self, spec: ModelSpec, draw: WeightDraw, tp: TensorParallel):
        super().__init__()
        self.top_k = spec.top_k
        self.router = nn.Linear(spec.hidden_size, spec.num_experts, bias=False, device="meta")
        self.router.weight = draw.param(draw.normal(spec.num_experts, spec.hidden_size))
        self.experts = nn.ModuleList(FeedForward(spec, draw, tp) for _ in range(spec.num_experts))
        self._tp = tp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        probs = self.router(tokens).float().softmax(dim=-1)
        gate, choice = probs.topk(self.top_k, dim=-1)
        gate = gate / gate.sum(dim=-1, keepdim=True)
        mixed = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            token_idx, slot = (choice == e).nonzero(as_tuple=True)
            if token_idx.numel() == 0:
                continue
            weight = gate[token_idx, slot].unsqueeze(-1).to(tokens.dtype)
            mixed.index_add_(0, token_idx, expert.partial(tokens[token_idx]) * weight)
        return self._tp.all_reduce(mixed).view(shape)


class TransformerLayer(nn.Module):
    """One layer: attention and (dense or expert) FFN, each with a residual and a LayerNorm."""

    def __init__(self, spec: ModelSpec, index: int, draw: WeightDraw, tp: TensorParallel):
        super().__init__()
        self.index = index
        self.pre_norm = spec.family == "gpt"
        h = spec.hidden_size
        # Draw order is fixed (attention, norm, ffn, norm) so weights depend only on the seed.
        self.attention = Attention(spec, draw, tp)
        self.norm1 = _layer_norm(draw, h)
        if spec.is_moe_layer[index]:
            self.ffn = MoEFeedForward(spec, draw, tp)
        else:
            self.ffn = FeedForward(spec, draw, tp)
        self.norm2 = _layer_norm(draw, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attention(self.norm1(x))
            return x + self.ffn(self.norm2(x))
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.ffn(x))
