"""LayerShape: the shape of one kernel-launching layer of a CNN, and the shipped table of them.

``alpa_serve_like/data/cnn_layers.json`` holds the layers of Paella's eight CNNs, extracted from
the torchvision 0.28.0 architectures (no weights) by ``alpa_serve_like.models.cnn_layers``
(``python -m alpa_serve_like.models.cnn_layers --out alpa_serve_like/data/cnn_layers.json``).
Reading it needs no torch; ``cnn_kernels`` turns the shapes into kernels for a device.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

LAYERS_FILE = "cnn_layers.json"

LayerKind = Literal["conv", "linear", "pool"]


@dataclass(frozen=True)
class LayerShape:
    """One layer that launches a kernel (batch 1). Shapes are (channels, height, width)."""

    name: str
    kind: LayerKind
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int] = (1, 1)
    groups: int = 1
    weight_count: int = 0
    """Parameters read by the kernel (conv or linear weights and bias)."""

    def __post_init__(self):
        if self.kind not in ("conv", "linear", "pool"):
            raise ValueError(f"layer {self.name!r}: kind must be conv, linear or pool, got {self.kind!r}")
        object.__setattr__(self, "in_shape", tuple(int(x) for x in self.in_shape))
        object.__setattr__(self, "out_shape", tuple(int(x) for x in self.out_shape))
        object.__setattr__(self, "kernel", tuple(int(x) for x in self.kernel))
        if len(self.in_shape) != 3 or len(self.out_shape) != 3 or min(self.in_shape + self.out_shape) < 1:
            raise ValueError(f"layer {self.name!r}: in_shape and out_shape must be 3 positive ints (C, H, W)")


def save_layers(layers_by_model: dict[str, list[LayerShape]], path: str | Path, source: str) -> None:
    """Write ``{"source": ..., "models": {model: [layer, ...]}}`` as JSON, one layer a line."""
    models = []
    for m in sorted(layers_by_model):
        rows = ",\n".join(json.dumps(asdict(l), sort_keys=True) for l in layers_by_model[m])
        models.append(f"{json.dumps(m)}: [\n{rows}\n]")
    Path(path).write_text(f'{{"source": {json.dumps(source)},\n"models": {{\n' + ",\n".join(models) + "\n}}\n")


def load_layers(path: str | Path | None = None) -> dict[str, list[LayerShape]]:
    """The layers of each model in ``path`` (default: the shipped table)."""
    text = (Path(path).read_text() if path is not None
            else resources.files("alpa_serve_like").joinpath("data", LAYERS_FILE).read_text())
    data = json.loads(text)
    if "models" not in data:
        raise ValueError(f"{path or LAYERS_FILE} has no 'models' key; regenerate it with "
                         f"python -m alpa_serve_like.models.cnn_layers --out FILE")
    return {m: [LayerShape(**l) for l in ls] for m, ls in data["models"].items()}
