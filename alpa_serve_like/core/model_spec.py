"""ModelSpec: the architecture metadata of a servable transformer model."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

ModelFamily = Literal["bert", "gpt", "moe"]
DType = Literal["float16", "bfloat16", "float32"]

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}


@dataclass(frozen=True)
class ModelSpec:
    """Shape of a dense (BERT/GPT) or mixture-of-experts transformer.

    The cost model, the torch model builder and the profiling database all key off this value.
    """

    name: str
    family: ModelFamily
    num_layers: int
    hidden_size: int
    num_heads: int
    seq_len: int
    vocab_size: int
    ffn_mult: int = 4
    """FFN inner size is ``ffn_mult * hidden_size``."""
    num_experts: int = 0
    """MoE only: experts per MoE layer (every other layer is an MoE layer, as in GShard)."""
    top_k: int = 0
    """MoE only: experts each token is routed to."""
    dtype: DType = "float16"

    def __post_init__(self):
        positive = ("num_layers", "hidden_size", "num_heads", "seq_len", "vocab_size", "ffn_mult")
        for field in positive:
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"model {self.name!r}: {field} must be a positive int, got {value!r}")
        if self.family not in ("bert", "gpt", "moe"):
            raise ValueError(f"model {self.name!r}: family must be bert, gpt or moe, got {self.family!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"model {self.name!r}: hidden_size {self.hidden_size} is not divisible by "
                f"num_heads {self.num_heads}"
            )
        if self.family == "moe":
            if self.num_experts < 1 or not 1 <= self.top_k <= self.num_experts:
                raise ValueError(
                    f"model {self.name!r}: an moe model needs num_experts >= 1 and "
                    f"1 <= top_k <= num_experts, got {self.num_experts} and {self.top_k}"
                )
        elif self.num_experts or self.top_k:
            raise ValueError(f"model {self.name!r}: num_experts/top_k are only for family 'moe'")
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f"model {self.name!r}: dtype must be one of {sorted(DTYPE_BYTES)}")

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def is_moe_layer(self) -> tuple[bool, ...]:
        """Per layer, whether its FFN is a mixture of experts (odd layers, GShard-style)."""
        return tuple(self.family == "moe" and i % 2 == 1 for i in range(self.num_layers))

    def layer_params(self, layer: int) -> int:
        """Parameters of one transformer layer (attention + FFN or experts + norms)."""
        h = self.hidden_size
        attn = 4 * h * h + 4 * h
        ffn = 2 * self.ffn_mult * h * h + (self.ffn_mult + 1) * h
        if self.is_moe_layer[layer]:
            ffn = ffn * self.num_experts + h * self.num_experts  # experts + router
        return attn + ffn + 4 * h  # two layer norms

    @property
    def embedding_params(self) -> int:
        return (self.vocab_size + self.seq_len) * self.hidden_size

    @property
    def num_params(self) -> int:
        return self.embedding_params + sum(self.layer_params(i) for i in range(self.num_layers))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        return cls(**data)
