"""Real checkpoints: our names, Hugging Face BERT/GPT-2 names, per-stage and per-op-rank sharding, and
errors that name the tensors. Each test writes its own tiny checkpoint (nothing is downloaded)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from alpa_serve_like import ModelSpec  # noqa: E402
from alpa_serve_like.models import TensorParallel, build_model, build_stage, random_token_ids  # noqa: E402
from alpa_serve_like.models.checkpoint import (  # noqa: E402
    CheckpointError,
    checkpoint_from_state,
    expected_tensors,
    load_checkpoint,
)

SPECS = {
    "bert": ModelSpec("bert-t", "bert", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50),
    "gpt": ModelSpec("gpt-t", "gpt", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50),
    "moe": ModelSpec("moe-t", "moe", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50,
                     num_experts=4, top_k=2),
}


def _whole_state(spec, seed):
    return {k: v.clone() for k, v in build_stage(spec, 1, 0, seed=seed).state_dict().items()}


def _out(stages, spec):
    x = random_token_ids(spec, 2, None, torch.Generator().manual_seed(5))
    with torch.inference_mode():
        for s in stages:
            x = s(x)
    return x


@pytest.mark.parametrize("family", sorted(SPECS))
def test_expected_tensors_are_the_whole_models_parameters(family):
    spec = SPECS[family]
    built = {k: tuple(v.shape) for k, v in build_stage(spec, 1, 0).state_dict().items()}
    assert expected_tensors(spec) == built


@pytest.mark.parametrize("family", sorted(SPECS))
def test_saved_checkpoint_loads_into_pipeline_stages(family, tmp_path):
    spec = SPECS[family]
    path = tmp_path / "model.pt"
    torch.save(_whole_state(spec, seed=3), path)
    ckpt = load_checkpoint(path, spec)
    stages = [build_stage(spec, 2, s, seed=0, checkpoint=ckpt) for s in range(2)]
    want = _out(build_model(spec, seed=3), spec)
    assert torch.equal(_out(stages, spec), want)
    assert not torch.equal(_out([build_stage(spec, 2, s, seed=0) for s in range(2)], spec), want)


def test_op_rank_gets_the_same_shard_as_seeded_init():
    spec = SPECS["moe"]
    ckpt = checkpoint_from_state(_whole_state(spec, seed=9), spec)
    for rank in range(2):
        tp = TensorParallel(rank, 2)
        loaded = build_stage(spec, 2, 1, seed=0, tp=tp, checkpoint=ckpt).state_dict()
        seeded = build_stage(spec, 2, 1, seed=9, tp=tp).state_dict()
        assert loaded.keys() == seeded.keys()
        assert all(torch.equal(loaded[k], seeded[k]) for k in seeded)


def test_errors_name_missing_and_misshaped_tensors():
    spec = SPECS["bert"]
    state = _whole_state(spec, seed=1)
    del state["layers.2.ffn.fc1.bias"]
    state["layers.0.attention.q.weight"] = torch.zeros(8, 32)
    state["decoder.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        checkpoint_from_state(state, spec, "ours", source="x.pt")
    text = str(err.value)
    assert "layers.2.ffn.fc1.bias" in text and "missing 1" in text
    assert "layers.0.attention.q.weight: file (8, 32), model (32, 32)" in text
    assert "decoder.weight" in text and "x.pt" in text


def _as_hf_gpt2(state, spec):
    """Our GPT state written the way transformers' GPT2Model names and lays it out."""
    out = {"transformer.wte.weight": state["embeddings.token.weight"],
           "transformer.wpe.weight": torch.cat([state["embeddings.position.weight"], torch.ones(4, 32)]),
           "transformer.ln_f.weight": torch.ones(32), "transformer.ln_f.bias": torch.zeros(32)}
    for i in range(spec.num_layers):
        p, h = f"layers.{i}", f"transformer.h.{i}"
        out[f"{h}.attn.c_attn.weight"] = torch.cat([state[f"{p}.attention.{x}.weight"] for x in "qkv"]).t()
        out[f"{h}.attn.c_attn.bias"] = torch.cat([state[f"{p}.attention.{x}.bias"] for x in "qkv"])
        out[f"{h}.attn.bias"] = torch.ones(1, 1, 16, 16)
        for ours, theirs, conv in (("attention.out", "attn.c_proj", True), ("ffn.fc1", "mlp.c_fc", True),
                                   ("ffn.fc2", "mlp.c_proj", True), ("norm1", "ln_1", False),
                                   ("norm2", "ln_2", False)):
            w = state[f"{p}.{ours}.weight"]
            out[f"{h}.{theirs}.weight"] = w.t() if conv else w
            out[f"{h}.{theirs}.bias"] = state[f"{p}.{ours}.bias"]
    return out


def test_hugging_face_gpt2_names_map_to_ours(tmp_path):
    spec = SPECS["gpt"]
    path = tmp_path / "gpt2.bin"
    torch.save(_as_hf_gpt2(_whole_state(spec, seed=4), spec), path)
    ckpt = load_checkpoint(path, spec)
    assert set(ckpt.ignored) == {"transformer.ln_f.weight", "transformer.ln_f.bias"}
    assert torch.equal(_out([build_stage(spec, 1, 0, checkpoint=ckpt)], spec), _out(build_model(spec, seed=4), spec))


def test_hugging_face_bert_folds_token_type_zero_into_positions():
    spec = SPECS["bert"]
    state = _whole_state(spec, seed=2)
    token_type = torch.randn(2, 32, generator=torch.Generator().manual_seed(0))
    hf = {"bert.embeddings.word_embeddings.weight": state["embeddings.token.weight"],
          "bert.embeddings.position_embeddings.weight": state["embeddings.position.weight"] - token_type[0],
          "bert.embeddings.token_type_embeddings.weight": token_type,
          "bert.pooler.dense.weight": torch.zeros(32, 32)}
    names = {"attention.q": "attention.self.query", "attention.k": "attention.self.key",
             "attention.v": "attention.self.value", "attention.out": "attention.output.dense",
             "norm1": "attention.output.LayerNorm", "ffn.fc1": "intermediate.dense", "ffn.fc2": "output.dense",
             "norm2": "output.LayerNorm"}
    for i in range(spec.num_layers):
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                hf[f"bert.encoder.layer.{i}.{theirs}.{kind}"] = state[f"layers.{i}.{ours}.{kind}"]
    ckpt = checkpoint_from_state(hf, spec)
    assert list(ckpt.ignored) == ["bert.pooler.dense.weight"]
    got = _out([build_stage(spec, 1, 0, checkpoint=ckpt)], spec)
    want = _out(build_model(spec, seed=2), spec)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
