"""Megatron-style tensor parallelism (intra-op, ``op > 1``) for the transformer layers.

A column-parallel linear keeps a slice of the output features (no communication); a row-parallel
linear keeps the matching slice of the input features and produces a partial sum that one
all-reduce over the op group completes. Attention splits heads across ranks (q/k/v column, output
row); the FFN splits its inner dimension (fc1 column, fc2 row). Each layer half therefore needs
exactly one all-reduce. Row-parallel biases are added on rank 0 only so the sum counts them once.
Runs under ``torch.distributed`` (gloo on CPU, NCCL on GPU); with ``size == 1`` nothing is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from alpa_serve_like.models.weights import WeightDraw


@dataclass(frozen=True)
class TensorParallel:
    """This process's place in its op group: ``rank`` of ``size``, communicating over ``group``."""

    rank: int = 0
    size: int = 1
    group: Any = None
    """A torch.distributed process group; None means the default (world) group."""

    def __post_init__(self):
        if self.size < 1 or not 0 <= self.rank < self.size:
            raise ValueError(f"tensor parallel rank {self.rank} of size {self.size} is invalid")

    def shard(self, total: int, what: str) -> slice:
        """The slice of ``total`` items this rank keeps; ``total`` must divide evenly."""
        if total % self.size:
            raise ValueError(
                f"{what} = {total} is not divisible by op = {self.size}; pick an op that divides it"
            )
        per = total // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def all_reduce(self, partial: torch.Tensor) -> torch.Tensor:
        if self.size > 1:
            dist.all_reduce(partial, op=dist.ReduceOp.SUM, group=self.group)
        return partial


SINGLE = TensorParallel()


def _linear(weight: nn.Parameter, bias: nn.Parameter | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device="meta")
    layer.weight = weight
    if bias is not None:
        layer.bias = bias
    return layer


def column_linear(draw: WeightDraw, in_f: int, out_f: int, tp: TensorParallel, what: str) -> nn.Linear:
    """``y = x W^T + b`` keeping this rank's slice of the ``out_f`` outputs."""
    weight, bias = draw.normal(out_f, in_f), draw.normal(out_f)
    keep = tp.shard(out_f, what)
    return _linear(draw.param(weight[keep]), draw.param(bias[keep]))


class RowLinear(nn.Module):
    """Row-parallel linear: this rank's slice of the ``in_f`` inputs; returns a partial sum."""

    def __init__(self, draw: WeightDraw, in_f: int, out_f: int, tp: TensorParallel, what: str):
        super().__init__()
        weight, bias = draw.normal(out_f, in_f), draw.normal(out_f)
        self.weight = draw.param(weight[:, tp.shard(in_f, what)])
        self.bias = draw.param(bias)
        self._add_bias = tp.rank == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Partial output: summing it over the op group gives the full ``x W^T + b``."""
        return F.linear(x, self.weight, self.bias if self._add_bias else None)
