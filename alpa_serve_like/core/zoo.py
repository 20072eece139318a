"""The model zoo: every model the project profiles, by name.

The AlpaServe zoo (OSDI'23, Table 1 / its artifact's ``bert_specs``):

==============  =====  ======  ======  =====  ======
model           seq    hidden  layers  heads  params
==============  =====  ======  ======  =====  ======
bert-1.3b       2048   2048    24      32     1.32 B
bert-2.6b       2048   2560    32      32     2.65 B
bert-6.7b       2048   4096    32      32     6.66 B
bert-103.5b     1024   8192    128     64     103.5 B
==============  =====  ======  ======  =====  ======

The MoE models are our own choice of shapes (AlpaServe names only their sizes). They are
GShard-style decoder LMs: every other layer's FFN (``ModelSpec.is_moe_layer``) is a mixture of
``num_experts`` experts with top-2 routing; seq 1024, 16 heads, FFN 4x hidden, vocab 51200:

==============  ======  ======  =======  ======
model           hidden  layers  experts  params
==============  ======  ======  =======  ======
moe-1.3b        1024    16      16       1.26 B
moe-2.4b        1024    16      32       2.34 B
moe-5.3b        1536    16      32       5.22 B
==============  ======  ======  =======  ======

Tiny models that run on a laptop CPU in milliseconds, for the demo, the runtime and tests:
bert-tiny, bert-mini, gpt-tiny.
"""
from __future__ import annotations

from alpa_serve_like.core.model_spec import ModelSpec

_VOCAB = 51200


def _bert(name: str, seq: int, hidden: int, layers: int, heads: int) -> ModelSpec:
    return ModelSpec(name=name, family="bert", num_layers=layers, hidden_size=hidden,
                     num_heads=heads, seq_len=seq, vocab_size=_VOCAB)


def _moe(name: str, hidden: int, layers: int, experts: int) -> ModelSpec:
    return ModelSpec(name=name, family="moe", num_layers=layers, hidden_size=hidden, num_heads=16,
                     seq_len=1024, vocab_size=_VOCAB, num_experts=experts, top_k=2)


ALPASERVE_MODELS: tuple[str, ...] = (
    "bert-1.3b", "bert-2.6b", "bert-6.7b", "bert-103.5b", "moe-1.3b", "moe-2.4b", "moe-5.3b",
)
"""The zoo the shipped database covers on every GPU type."""

TINY_MODELS: tuple[str, ...] = ("bert-tiny", "bert-mini", "gpt-tiny")
"""CPU-sized models, profiled on device ``cpu``."""

ZOO: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _bert("bert-1.3b", 2048, 2048, 24, 32),
        _bert("bert-2.6b", 2048, 2560, 32, 32),
        _bert("bert-6.7b", 2048, 4096, 32, 32),
        _bert("bert-103.5b", 1024, 8192, 128, 64),
        _moe("moe-1.3b", 1024, 16, 16),
        _moe("moe-2.4b", 1024, 16, 32),
        _moe("moe-5.3b", 1536, 16, 32),
        ModelSpec(name="bert-tiny", family="bert", num_layers=2, hidden_size=128, num_heads=2,
                  seq_len=128, vocab_size=1024, dtype="float32"),
        ModelSpec(name="bert-mini", family="bert", num_layers=4, hidden_size=256, num_heads=4,
                  seq_len=128, vocab_size=1024, dtype="float32"),
        ModelSpec(name="gpt-tiny", family="gpt", num_layers=4, hidden_size=128, num_heads=4,
                  seq_len=128, vocab_size=1024, dtype="float32"),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The zoo's ModelSpec called ``name``; a KeyError lists the known names otherwise."""
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(
            f"model {name!r} is not in the zoo (known: {', '.join(ZOO)}); "
            f"add a ModelSpec to alpa_serve_like/core/zoo.py to profile a new model"
        ) from None


def parse_model_list(text: str) -> list[ModelSpec]:
    """``"bert-1.3b,moe-2.4b"`` -> specs, in order, without duplicates."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("empty model list; pass names such as 'bert-1.3b,bert-2.6b'")
    return [get_spec(n) for n in dict.fromkeys(names)]
