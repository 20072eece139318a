"""Deterministic random weights for the torch models: same seed, same weights, however cut.

Every weight is drawn in full from a generator keyed by ``(seed, part)`` -- part being the
embeddings or one layer index -- and only then sliced for a tensor-parallel shard. So the weights
of layer 7 do not depend on which pipeline stage builds it, or on how many shards it is split into,
and composing stages reproduces the unsplit model exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

INIT_STD = 0.02
"""Standard deviation of weights and biases (BERT/GPT-2 initialisation)."""


def part_generator(seed: int, *part: int) -> torch.Generator:
    """A CPU generator for one part of the model, independent of every other part."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"model seed must be an int >= 0, got {seed!r}")
    state = np.random.SeedSequence([seed, *part]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


@dataclass(frozen=True)
class ParamTarget:
    """Where and in which dtype built parameters live."""

    dtype: torch.dtype = torch.float32
    device: str | torch.device = "cpu"


class WeightDraw:
    """Draws full-size float32 tensors from one generator, in call order, and places them."""

    def __init__(self, generator: torch.Generator, where: ParamTarget):
        self._gen = generator
        self._where = where

    def normal(self, *shape: int) -> torch.Tensor:
        t = torch.empty(*shape, dtype=torch.float32)
        t.normal_(0.0, INIT_STD, generator=self._gen)
        return t

    def ones(self, *shape: int) -> torch.Tensor:
        return torch.ones(*shape, dtype=torch.float32)

    def zeros(self, *shape: int) -> torch.Tensor:
        return torch.zeros(*shape, dtype=torch.float32)

    def param(self, tensor: torch.Tensor) -> torch.nn.Parameter:
        """Cast a drawn (possibly sliced) tensor to the target dtype/device as a frozen parameter."""
        data = tensor.to(dtype=self._where.dtype, device=self._where.device).contiguous()
        return torch.nn.Parameter(data, requires_grad=False)
