"""Real checkpoints for the torch stage modules: read a state dict, rename it, shard it per stage.

Our tensor names are those of the whole model, ``build_stage(spec, 1, 0).state_dict()``:
``embeddings.token.weight``, ``embeddings.position.weight``, and per layer ``i`` (global index)
``layers.i.attention.{q,k,v,out}.{weight,bias}``, ``layers.i.norm{1,2}.{weight,bias}``,
``layers.i.ffn.fc{1,2}.{weight,bias}`` (dense) or ``layers.i.ffn.router.weight`` and
``layers.i.ffn.experts.e.fc{1,2}.{weight,bias}`` (MoE layers). ``expected_tensors`` lists them with
their full (unsharded) shapes.

Hugging Face names are mapped to ours (``naming``):

- ``hf-bert`` (``BertModel``, with or without the ``bert.`` prefix): word/position embeddings,
  ``encoder.layer.i.attention.self.{query,key,value}`` -> q/k/v, ``attention.output.dense`` -> out,
  ``attention.output.LayerNorm`` -> norm1, ``intermediate.dense`` -> fc1, ``output.dense`` -> fc2,
  ``output.LayerNorm`` -> norm2. Token type 0 is the only type our model sees, so its embedding row
  is added to every position embedding (exact). Not representable, so left out and reported in
  ``Checkpoint.ignored``: the embedding LayerNorm (our embeddings have none), pooler and heads.
- ``hf-gpt2`` (``GPT2Model``, with or without ``transformer.``): ``wte``/``wpe``, ``h.i.ln_1`` ->
  norm1, ``h.i.attn.c_attn`` (Conv1D, fused q|k|v, stored [in, out]) -> q/k/v transposed,
  ``attn.c_proj`` -> out, ``ln_2`` -> norm2, ``mlp.c_fc``/``mlp.c_proj`` -> fc1/fc2 (transposed).
  Reported as ignored: ``ln_f`` (our last stage ends with a parameter-free LayerNorm) and
  ``lm_head``; the attention-mask buffers are dropped silently. GPT-2's tanh-approximated GELU
  differs from our exact GELU by < 1e-3 per activation.

Position embeddings longer than the spec's ``seq_len`` are cut to its first ``seq_len`` rows (later
positions are never used). Sharding happens at load time: each stage takes its layers' tensors and,
under tensor parallelism, the slice of rank ``tp.rank`` along the one dimension its parameter is
split on -- the same slice the random initialisation keeps, so a loaded model computes what the
unsplit one does. Nothing is downloaded: the file must be local.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

import torch

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.models.tensor_parallel import SINGLE, TensorParallel

Naming = Literal["ours", "hf-bert", "hf-gpt2", "auto"]
NAMINGS = ("ours", "hf-bert", "hf-gpt2", "auto")


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message names every offending tensor."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Full (unsharded) tensors under our names, and what was left out of the file, with why."""

    spec: ModelSpec
    tensors: Mapping[str, torch.Tensor]
    source: str
    ignored: Mapping[str, str] = field(default_factory=dict)


def expected_tensors(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Our name -> full shape of every parameter of ``spec`` (the whole, unsplit model)."""
    h, inner = spec.hidden_size, spec.ffn_mult * spec.hidden_size
    out = {"embeddings.token.weight": (spec.vocab_size, h), "embeddings.position.weight": (spec.seq_len, h)}

    def ffn(prefix: str) -> None:
        out.update({f"{prefix}.fc1.weight": (inner, h), f"{prefix}.fc1.bias": (inner,),
                    f"{prefix}.fc2.weight": (h, inner), f"{prefix}.fc2.bias": (h,)})

    for i, moe in enumerate(spec.is_moe_layer):
        p = f"layers.{i}"
        for proj in ("q", "k", "v", "out"):
            out[f"{p}.attention.{proj}.weight"] = (h, h)
            out[f"{p}.attention.{proj}.bias"] = (h,)
        for norm in ("norm1", "norm2"):
            out[f"{p}.{norm}.weight"] = (h,)
            out[f"{p}.{norm}.bias"] = (h,)
        if moe:
            out[f"{p}.ffn.router.weight"] = (spec.num_experts, h)
            for e in range(spec.num_experts):
                ffn(f"{p}.ffn.experts.{e}")
        else:
            ffn(f"{p}.ffn")
    return out


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.safetensors`` file or a ``torch.save``d state dict (loaded with
    ``weights_only=True``: no code in the file runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (nothing is downloaded; give a local file)")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise CheckpointError(f"checkpoint {path}: reading .safetensors needs the 'safetensors' package "
                                  f"(pip install safetensors), or save it with torch.save") from exc
        return dict(load_file(str(path)))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path}: expected a dict of name -> tensor (a state dict)")
    return state


_BERT_LAYER = {
    "attention.self.query": "attention.q", "attention.self.key": "attention.k",
    "attention.self.value": "attention.v", "attention.output.dense": "attention.out",
    "attention.output.LayerNorm": "norm1", "intermediate.dense": "ffn.fc1", "output.dense": "ffn.fc2",
    "output.LayerNorm": "norm2",
}


def _from_hf_bert(state: Mapping[str, torch.Tensor]) -> tuple[dict, dict, list]:
    out, ignored, unknown = {}, {}, []
    token_type = None
    for name, t in state.items():
        key = name[len("bert."):] if name.startswith("bert.") else name
        m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", key)
        if key == "embeddings.word_embeddings.weight":
            out["embeddings.token.weight"] = t
        elif key == "embeddings.position_embeddings.weight":
            out["embeddings.position.weight"] = t
        elif key == "embeddings.token_type_embeddings.weight":
            token_type = t
        elif key.startswith("embeddings.LayerNorm."):
            ignored[name] = "our embeddings have no LayerNorm"
        elif key == "embeddings.position_ids":
            continue  # a buffer of 0..n-1, not a weight
        elif key.startswith(("pooler.", "cls.", "qa_outputs.", "classifier.")):
            ignored[name] = "output heads are not part of the served stages"
        elif m and m.group(2) in _BERT_LAYER:
            out[f"layers.{m.group(1)}.{_BERT_LAYER[m.group(2)]}.{m.group(3)}"] = t
        else:
            unknown.append(name)
    if token_type is not None and "embeddings.position.weight" in out:
        out["embeddings.position.weight"] = out["embeddings.position.weight"] + token_type[0]
    return out, ignored, unknown


_GPT2_LAYER = {"ln_1": "norm1", "ln_2": "norm2", "attn.c_proj": "attention.out",
               "mlp.c_fc": "ffn.fc1", "mlp.c_proj": "ffn.fc2"}


def _from_hf_gpt2(state: Mapping[str, torch.Tensor]) -> tuple[dict, dict, list]:
    out, ignored, unknown = {}, {}, []
    for name, t in state.items():
        key = name[len("transformer."):] if name.startswith("transformer.") else name
        m = re.fullmatch(r"h\.(\d+)\.(.+)\.(weight|bias)", key)
        if key == "wte.weight":
            out["embeddings.token.weight"] = t
        elif key == "wpe.weight":
            out["embeddings.position.weight"] = t
        elif key.startswith("ln_f."):
            ignored[name] = "our last stage ends with a parameter-free LayerNorm"
        elif key.startswith("lm_head."):
            ignored[name] = "output heads are not part of the served stages"
        elif re.fullmatch(r"h\.\d+\.attn\.(masked_)?bias", key):
            continue  # causal-mask buffers, not weights
        elif m and m.group(2) == "attn.c_attn":
            # Conv1D stores [in, out]; q|k|v are concatenated along out
            i, kind = m.group(1), m.group(3)
            parts = (t.t() if kind == "weight" else t).chunk(3, dim=0)
            for proj, part in zip("qkv", parts):
                out[f"layers.{i}.attention.{proj}.{kind}"] = part
        elif m and m.group(2) in _GPT2_LAYER:
            conv = m.group(2) not in ("ln_1", "ln_2") and m.group(3) == "weight"
            out[f"layers.{m.group(1)}.{_GPT2_LAYER[m.group(2)]}.{m.group(3)}"] = t.t() if conv else t
        else:
            unknown.append(name)
    return out, ignored, unknown


def _guess_naming(state: Mapping[str, torch.Tensor]) -> str:
    names = list(state)
    if any(n.startswith(("encoder.layer.", "bert.")) for n in names):
        return "hf-bert"
    if any(re.match(r"(transformer\.)?h\.\d+\.", n) for n in names):
        return "hf-gpt2"
    return "ours"


def load_checkpoint(path: str | os.PathLike, spec: ModelSpec, naming: Naming = "auto") -> Checkpoint:
    """Read ``path``, rename its tensors to ours and check them against ``spec``; raises
    ``CheckpointError`` naming every missing, unknown and mis-shaped tensor."""
    return checkpoint_from_state(read_state_dict(path), spec, naming, source=str(path))


def checkpoint_from_state(state: Mapping[str, torch.Tensor], spec: ModelSpec, naming: Naming = "auto",
                          source: str = "state dict") -> Checkpoint:
    """``load_checkpoint`` for a state dict already in memory."""
    if naming not in NAMINGS:
        raise CheckpointError(f"unknown checkpoint naming {naming!r} (known: {', '.join(NAMINGS)})")
    if naming == "auto":
        naming = _guess_naming(state)
    if naming == "hf-bert":
        tensors, ignored, unknown = _from_hf_bert(state)
    elif naming == "hf-gpt2":
        tensors, ignored, unknown = _from_hf_gpt2(state)
    else:
        tensors, ignored, unknown = dict(state), {}, []
    expected = expected_tensors(spec)
    pos = tensors.get("embeddings.position.weight")
    if pos is not None and pos.dim() == 2 and pos.shape[0] > spec.seq_len:
        tensors["embeddings.position.weight"] = pos[:spec.seq_len]
    unknown += [n for n in tensors if n not in expected and n not in unknown]
    missing = [n for n in expected if n not in tensors]
    wrong = [f"{n}: file {tuple(tensors[n].shape)}, model {expected[n]}" for n in expected
             if n in tensors and tuple(tensors[n].shape) != expected[n]]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {_some(missing)}")
    if wrong:
        problems.append(f"wrong shape {len(wrong)}: {_some(wrong)}")
    if unknown:
        problems.append(f"not in the model {len(unknown)}: {_some(unknown)}")
    if problems:
        raise CheckpointError(f"checkpoint {source} ({naming} names) does not fit model {spec.name!r} "
                              f"({spec.num_layers} layers, hidden {spec.hidden_size}): " + "; ".join(problems)
                              + f". Check that the checkpoint is for this architecture and the naming "
                              f"(one of {', '.join(NAMINGS)})")
    return Checkpoint(spec, {n: tensors[n] for n in expected}, source, ignored)


def _some(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def load_stage_weights(stage: torch.nn.Module, checkpoint: Checkpoint, tp: TensorParallel = SINGLE) -> None:
    """Copy the checkpoint into ``stage`` (a ``StageModule``) in place: its layers, and this op rank's
    shard of each tensor (the one dimension where the parameter is ``1/tp.size`` of the full one)."""
    if stage.spec != checkpoint.spec:
        raise CheckpointError(f"checkpoint {checkpoint.source} is for model {checkpoint.spec.name!r}, "
                              f"not {stage.spec.name!r}")
    start = stage.layer_range[0]
    with torch.no_grad():
        for local, param in stage.named_parameters():
            m = re.fullmatch(r"layers\.(\d+)\.(.+)", local)
            name = f"layers.{start + int(m.group(1))}.{m.group(2)}" if m else local
            full = checkpoint.tensors[name]
            param.copy_(_shard(full, tuple(param.shape), tp, name).to(param.dtype))


def _shard(full: torch.Tensor, shape: tuple[int, ...], tp: TensorParallel, name: str) -> torch.Tensor:
    if tuple(full.shape) == shape:
        return full
    split = [d for d, (a, b) in enumerate(zip(full.shape, shape)) if a != b]
    if len(full.shape) != len(shape) or len(split) != 1 or full.shape[split[0]] != shape[split[0]] * tp.size:
        raise CheckpointError(f"tensor {name}: checkpoint shape {tuple(full.shape)} cannot be sharded to "
                              f"{shape} for op rank {tp.rank} of {tp.size}")
    d = split[0]
    return full.narrow(d, tp.rank * shape[d], shape[d])
