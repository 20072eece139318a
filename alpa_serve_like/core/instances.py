"""Model instance names -> architectures and weight seeds.

A placement names model instances ("bert-tiny-0", "bert-tiny-1"): independent copies of a zoo
model with their own weights and traffic. The runtime builds each from its base ModelSpec.
"""
from __future__ import annotations

import zlib
from typing import Mapping, TypeVar

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.zoo import ZOO


class UnknownModelError(KeyError):
    """A model instance whose base architecture is not in the zoo."""

    def __str__(self) -> str:
        return str(self.args[0])


def base_model_name(instance: str) -> str:
    """``bert-tiny-3`` -> ``bert-tiny``; a name that is itself in the zoo is returned unchanged."""
    if instance in ZOO:
        return instance
    head, _, tail = instance.rpartition("-")
    return head if head and tail.isdigit() else instance


def instance_name(base: str, index: int) -> str:
    """Name of copy ``index`` of ``base``: ``bert-1.3b``, 0 -> ``bert-1.3b-0`` (a lone copy too, so
    names never depend on how many copies there are)."""
    return f"{base}-{index}"


T = TypeVar("T")


def lookup_instance(instance: str, by_model: Mapping[str, T]) -> T | None:
    """The entry of ``instance`` in a per-model mapping (profiles of one device): its own entry if it
    has one, else its base model's (``bert-1.3b-7`` -> ``bert-1.3b``); None if neither is there."""
    if instance in by_model:
        return by_model[instance]
    return by_model.get(base_model_name(instance))


def instance_spec(instance: str) -> ModelSpec:
    """The zoo ModelSpec of ``instance`` (e.g. ``gpt-tiny-1`` -> ``gpt-tiny``)."""
    base = base_model_name(instance)
    if base not in ZOO:
        raise UnknownModelError(
            f"model {instance!r}: base model {base!r} is not in the zoo (known: {', '.join(ZOO)}); "
            f"name instances <zoo name>-<index>, e.g. bert-tiny-0"
        )
    return ZOO[base]


def instance_seed(instance: str, seed: int) -> int:
    """Weight seed of ``instance``: stable across processes (unlike ``hash``), distinct per name."""
    return (int(seed) * 1_000_003 + zlib.crc32(instance.encode())) % (2**31 - 1)
