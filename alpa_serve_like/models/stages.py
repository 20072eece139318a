"""Pipeline stages of a transformer built from a ModelSpec: the unit the runtime and profiler run.

Stage ``s`` of ``pp`` holds layers ``stage_layer_ranges(spec, pp)[s]``: exactly the split the analytic
cost model times (``cost_model.stage_bounds``), so a profile's stage ``s`` is the same layers whether
it was computed or measured, and the runtime's per-stage predictions match what its stages run. Stage 0 also holds the embeddings and takes int64 token ids ``[batch, seq]``;
later stages take hidden states ``[batch, seq, hidden]``. Every stage but the last returns hidden
states; the last returns one summary vector per sequence, ``[batch, hidden]``, so responses stay
small: the first ([CLS]) token for BERT/MoE (already normalised by the post-norm layers), the last
token after a parameter-free LayerNorm for GPT (pre-norm; a last-token summary sees the whole
causal context). There is no output head, so parameters equal ``ModelSpec.num_params``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.cost_model import stage_bounds
from alpa_serve_like.models.checkpoint import Checkpoint, load_stage_weights
from alpa_serve_like.models.layers import Embeddings, TransformerLayer
from alpa_serve_like.models.tensor_parallel import SINGLE, TensorParallel
from alpa_serve_like.models.weights import ParamTarget, WeightDraw, part_generator

_EMBEDDING_PART = 0
_LAYER_PART = 1


def stage_layer_ranges(spec: ModelSpec, pp: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` layers of each of ``pp`` stages: the cost model's FLOP-balanced split.

    Deterministic (depends only on the spec). Delegates to ``cost_model.stage_bounds`` rather than
    re-deriving it, so the two can never disagree.
    """
    if not 1 <= pp <= spec.num_layers:
        raise ValueError(
            f"model {spec.name!r}: cannot split {spec.num_layers} layers into pp={pp} stages; "
            f"use 1 <= pp <= {spec.num_layers}"
        )
    return [(int(start), int(end)) for start, end in stage_bounds(spec, pp)]


class StageModule(nn.Module):
    """Layers ``[start, end)`` of ``spec`` as pipeline stage ``stage`` of ``num_stages``."""

    def __init__(self, spec: ModelSpec, stage: int, num_stages: int, layer_range: tuple[int, int],
                 embeddings: Embeddings | None, layers: list[TransformerLayer]):
        super().__init__()
        self.spec = spec
        self.stage = stage
        self.num_stages = num_stages
        self.layer_range = tuple(layer_range)
        if (embeddings is not None) != (stage == 0):
            raise ValueError("stage 0, and only stage 0, must hold the embeddings")
        self.embeddings = embeddings
        self.layers = nn.ModuleList(layers)

    @property
    def is_first(self) -> bool:
        return self.stage == 0

    @property
    def is_last(self) -> bool:
        return self.stage == self.num_stages - 1

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def weight_bytes(self) -> int:
        """Bytes of this stage's parameters on one of its devices (one shard under op > 1)."""
        return sum(p.numel() * p.element_size() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embeddings is not None:
            x = self.embeddings(x)
        elif x.dim() != 3 or x.shape[-1] != self.spec.hidden_size:
            raise ValueError(
                f"stage {self.stage} of {self.spec.name!r} takes hidden states "
                f"[batch, seq, {self.spec.hidden_size}], got {tuple(x.shape)}"
            )
        for layer in self.layers:
            x = layer(x)
        if not self.is_last:
            return x
        if self.spec.family == "gpt":
            return F.layer_norm(x[:, -1], (x.shape[-1],))
        return x[:, 0]

    def example_input(self, batch: int, seq_len: int | None = None,
                      generator: torch.Generator | np.random.Generator | None = None) -> torch.Tensor:
        """A valid input for this stage on its device: token ids for stage 0, hidden states after.

        Without a generator the input is deterministic (generator seeded with 0).
        """
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        param = next(self.parameters())
        if self.is_first:
            return random_token_ids(self.spec, batch, seq_len, generator).to(param.device)
        seq = self.spec.seq_len if seq_len is None else seq_len
        shape = (batch, seq, self.spec.hidden_size)
        if isinstance(generator, np.random.Generator):
            hidden = torch.from_numpy(generator.standard_normal(shape, dtype=np.float32))
        else:
            hidden = torch.randn(shape, generator=generator)
        return hidden.to(dtype=param.dtype, device=param.device)


def random_token_ids(spec: ModelSpec, batch: int, seq_len: int | None,
                     generator: torch.Generator | np.random.Generator) -> torch.Tensor:
    """Uniform random int64 token ids ``[batch, seq_len]`` (``seq_len`` None: ``spec.seq_len``)."""
    seq = spec.seq_len if seq_len is None else seq_len
    if batch < 1 or not 1 <= seq <= spec.seq_len:
        raise ValueError(f"model {spec.name!r}: need batch >= 1 and 1 <= seq_len <= {spec.seq_len}, "
                         f"got batch={batch}, seq_len={seq}")
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.integers(0, spec.vocab_size, (batch, seq), dtype=np.int64))
    return torch.randint(0, spec.vocab_size, (batch, seq), generator=generator, dtype=torch.int64)


def build_stage(spec: ModelSpec, pp: int, stage: int, *, seed: int = 0,
                dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                tp: TensorParallel = SINGLE, checkpoint: Checkpoint | None = None) -> StageModule:
    """Build stage ``stage`` of a ``pp``-stage pipeline of ``spec`` with weights from ``seed``, or
    from ``checkpoint`` (``models.checkpoint.load_checkpoint``) when one is given.

    ``tp`` shards every layer Megatron-style for op > 1: every rank of the op group builds its
    shard inside an initialised torch.distributed group, feeds the same input, and gets the full
    output (see ``tensor_parallel``). The weights do not depend on ``pp`` or ``tp``.
    """
    if not 0 <= stage < pp:
        raise ValueError(f"stage {stage} is outside 0..{pp - 1} for pp={pp}")
    start, end = stage_layer_ranges(spec, pp)[stage]
    target = ParamTarget(dtype=dtype, device=device)
    embeddings = None
    if stage == 0:
        embeddings = Embeddings(spec, WeightDraw(part_generator(seed, _EMBEDDING_PART), target))
    layers = [
        TransformerLayer(spec, i, WeightDraw(part_generator(seed, _LAYER_PART, i), target), tp)
        for i in range(start, end)
    ]
    module = StageModule(spec, stage, pp, (start, end), embeddings, layers).eval()
    if checkpoint is not None:
        load_stage_weights(module, checkpoint, tp)
    return module


def split_stages(full: StageModule, pp: int) -> list[StageModule]:
    """Cut a whole-model stage (from ``build_stage(spec, 1, 0)``) into ``pp`` stages.

    The stages share the full model's layer modules, so no weights are copied: this is how the
    profiler times many pp values of one model without rebuilding it.
    """
    if full.num_stages != 1:
        raise ValueError(f"split_stages needs a whole model (pp=1), got stage {full.stage} of {full.num_stages}")
    ranges = stage_layer_ranges(full.spec, pp)
    return [
        StageModule(full.spec, s, pp, (start, end), full.embeddings if s == 0 else None,
                    list(full.layers[start:end])).eval()
        for s, (start, end) in enumerate(ranges)
    ]


def build_model(spec: ModelSpec, seed: int = 0, *, pp: int = 1, dtype: torch.dtype = torch.float32,
                device: str | torch.device = "cpu") -> nn.Sequential:
    """All ``pp`` stages of ``spec`` chained: token ids ``[batch, seq]`` -> ``[batch, hidden]``."""
    return nn.Sequential(*(build_stage(spec, pp, s, seed=seed, dtype=dtype, device=device)
                           for s in range(pp))).eval()
