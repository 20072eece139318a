"""Extract the kernel-launching layers of Paella's eight CNNs from torchvision's architectures.

Builds each torchvision 0.28.0 model without weights, runs one batch-1 forward pass on CPU with
hooks on its convolution, linear and pooling modules, and records their shapes as ``LayerShape``
values (``cost_model.cnn_layers``). Batch norm, activations, dropout, residual additions,
concatenations and flattening launch no kernel of their own here: an inference compiler (Paella
serves TVM-compiled models) fuses them into the neighbouring convolution. Written to
``alpa_serve_like/data/cnn_layers.json`` so the simulator and tests need no torch:

    python -m alpa_serve_like.models.cnn_layers --out alpa_serve_like/data/cnn_layers.json
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import types

import torch

from alpa_serve_like.cost_model.cnn_layers import LayerShape, save_layers

TORCHVISION_VERSION = "0.28.0"

PAELLA_CNNS: dict[str, tuple[str, int]] = {
    "mobilenetv2": ("mobilenet_v2", 224),
    "densenet121": ("densenet121", 224),
    "googlenet": ("googlenet", 224),
    "inception_v3": ("inception_v3", 299),
    "resnet18": ("resnet18", 224),
    "resnet34": ("resnet34", 224),
    "resnet50": ("resnet50", 224),
    "squeezenet1.1": ("squeezenet1_1", 224),
}
"""Paella's model name -> (torchvision builder, input height and width)."""


def torchvision_models():
    """``torchvision.models``, even where torchvision's C++ ops cannot load.

    PyPI's torchvision wheel links against CUDA torch; next to the CPU-only torch it fails in its
    package ``__init__`` (registering fake kernels for ops its extension never loaded). The model
    definitions are pure Python and use none of those ops, so on that failure the package is
    imported without its ``__init__``.
    """
    try:
        import torchvision.models as models

        return models
    except (RuntimeError, OSError):
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            raise ImportError(f"torchvision is not installed; pip install torchvision=={TORCHVISION_VERSION}")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["torchvision"] = package
        return importlib.import_module("torchvision.models")


def build_cnn(model: str) -> tuple[torch.nn.Module, int]:
    """The torchvision architecture of ``model`` (random weights, eval mode) and its input size."""
    if model not in PAELLA_CNNS:
        raise ValueError(f"unknown CNN {model!r} (known: {', '.join(PAELLA_CNNS)})")
    builder, size = PAELLA_CNNS[model]
    kwargs = {"weights": None}
    if builder in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=False)  # inference: no auxiliary heads
    return getattr(torchvision_models(), builder)(**kwargs).eval(), size


def _chw(t: torch.Tensor) -> tuple[int, int, int]:
    shape = tuple(t.shape[1:])
    return shape + (1,) * (3 - len(shape))  # a linear layer's (features,) becomes (features, 1, 1)


def extract_layers(model: str) -> list[LayerShape]:
    """The kernel-launching layers of ``model`` in execution order (one batch-1 forward pass)."""
    net, size = build_cnn(model)
    layers: list[LayerShape] = []

    def hook(name):
        def record(module, inputs, output):
            weights = sum(p.numel() for p in module.parameters(recurse=False))
            if isinstance(module, torch.nn.Conv2d):
                layers.append(LayerShape(name, "conv", _chw(inputs[0]), _chw(output), module.kernel_size,
                                         module.groups, weights))
            elif isinstance(module, torch.nn.Linear):
                layers.append(LayerShape(name, "linear", _chw(inputs[0]), _chw(output), (1, 1), 1, weights))
            else:
                k = getattr(module, "kernel_size", None)
                if k is None:  # adaptive pooling: the window is whatever maps input onto output
                    k = (inputs[0].shape[2] // output.shape[2], inputs[0].shape[3] // output.shape[3])
                k = (k, k) if isinstance(k, int) else tuple(k)
                layers.append(LayerShape(name, "pool", _chw(inputs[0]), _chw(output), k, 1, 0))

        return record

    kinds = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)
    for name, module in net.named_modules():
        if isinstance(module, kinds):
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return layers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m alpa_serve_like.models.cnn_layers", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    args = p.parse_args(argv)
    layers = {m: extract_layers(m) for m in PAELLA_CNNS}
    save_layers(layers, args.out, f"torchvision {TORCHVISION_VERSION} architectures, batch 1, via "
                                  f"alpa_serve_like.models.cnn_layers")
    print(f"wrote {args.out}: " + ", ".join(f"{m} {len(ls)} layers" for m, ls in layers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
