"""Torch models from a ModelSpec: parameter counts, stage cuts, determinism, MoE routing, op > 1."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from alpa_serve_like import ModelSpec  # noqa: E402
from alpa_serve_like.models import (  # noqa: E402
    TensorParallel,
    build_model,
    build_stage,
    random_token_ids,
    split_stages,
    stage_layer_ranges,
)
from alpa_serve_like.models.layers import MoEFeedForward  # noqa: E402

SPECS = {
    "bert": ModelSpec("bert-t", "bert", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50),
    "gpt": ModelSpec("gpt-t", "gpt", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50),
    "moe": ModelSpec("moe-t", "moe", num_layers=4, hidden_size=32, num_heads=4, seq_len=16, vocab_size=50,
                     num_experts=4, top_k=2),
}


def _tokens(spec, batch=3, seq=None, seed=1):
    return random_token_ids(spec, batch, seq, torch.Generator().manual_seed(seed))


def _run(stages, x):
    with torch.inference_mode():
        for stage in stages:
            x = stage(x)
    return x


@pytest.mark.parametrize("family", sorted(SPECS))
def test_parameter_count_equals_spec(family):
    spec = SPECS[family]
    assert sum(p.numel() for p in build_model(spec).parameters()) == spec.num_params
    stages = [build_stage(spec, 3, s) for s in range(3)]
    assert sum(st.num_params for st in stages) == spec.num_params


@pytest.mark.parametrize("family", sorted(SPECS))
def test_pipeline_stages_compose_to_the_whole_model(family):
    spec = SPECS[family]
    x = _tokens(spec)
    whole = _run([build_stage(spec, 1, 0, seed=7)], x)
    assert whole.shape == (3, spec.hidden_size)
    for pp in (2, 3, 4):
        stages = [build_stage(spec, pp, s, seed=7) for s in range(pp)]
        hidden = _run(stages[:1], x)
        assert hidden.shape == (3, spec.seq_len, spec.hidden_size)
        assert torch.allclose(_run(stages, x), whole, atol=1e-6)
        assert torch.allclose(_run(split_stages(build_stage(spec, 1, 0, seed=7), pp), x), whole, atol=1e-6)


def test_seed_determines_weights():
    spec = SPECS["moe"]
    x = _tokens(spec)
    a, b = _run([build_model(spec, 5)], x), _run([build_model(spec, 5)], x)
    assert torch.equal(a, b)
    assert not torch.allclose(a, _run([build_model(spec, 6)], x))


def test_shorter_sequences_and_numpy_generator():
    spec = SPECS["bert"]
    x = random_token_ids(spec, 2, 5, np.random.default_rng(0))
    assert x.dtype == torch.int64 and x.shape == (2, 5) and int(x.max()) < spec.vocab_size
    assert _run([build_model(spec)], x).shape == (2, spec.hidden_size)


def test_gpt_is_causal_and_bert_is_not():
    x = _tokens(SPECS["gpt"], batch=1)
    y = x.clone()
    y[0, -1] = (y[0, -1] + 1) % SPECS["gpt"].vocab_size
    gpt_first = build_stage(SPECS["gpt"], 2, 0)
    hx, hy = _run([gpt_first], x), _run([gpt_first], y)
    assert torch.equal(hx[:, :-1], hy[:, :-1])  # earlier positions never see the changed last token
    assert not torch.allclose(hx[:, -1], hy[:, -1])
    bert_first = build_stage(SPECS["bert"], 2, 0)
    assert not torch.allclose(_run([bert_first], x)[:, 0], _run([bert_first], y)[:, 0])


def test_moe_matches_per_token_reference():
    spec = SPECS["moe"]
    layer = build_stage(spec, 1, 0, seed=2).layers[1]
    moe = layer.ffn
    assert isinstance(moe, MoEFeedForward) and spec.is_moe_layer[1]
    x = torch.randn(2, 6, spec.hidden_size, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        got = moe(x)
        expected = torch.zeros_like(x)
        for b in range(2):
            for t in range(6):
                token = x[b, t]
                probs = torch.softmax(moe.router.weight @ token, dim=0)
                top = torch.argsort(probs, descending=True)[: spec.top_k]
                for e in top.tolist():
                    ffn = moe.experts[e]
                    out = ffn.fc2.weight @ torch.nn.functional.gelu(ffn.fc1(token)) + ffn.fc2.bias
                    expected[b, t] += probs[e] / probs[top].sum() * out
    assert torch.allclose(got, expected, atol=1e-5)
    # Routing must actually spread tokens: more than one expert in use.
    chosen = moe.router(x.reshape(-1, spec.hidden_size)).topk(spec.top_k, dim=-1).indices
    assert len(set(chosen.flatten().tolist())) > 1


def test_stage_layer_ranges_are_the_cost_models_split():
    from alpa_serve_like.cost_model import stage_bounds

    moe = ModelSpec("m", "moe", num_layers=8, hidden_size=64, num_heads=4, seq_len=32, vocab_size=10,
                    num_experts=4, top_k=2)
    dense = ModelSpec("d", "gpt", num_layers=24, hidden_size=256, num_heads=4, seq_len=128, vocab_size=1000)
    for spec in (moe, dense, *SPECS.values()):
        for pp in range(1, min(spec.num_layers, 8) + 1):
            ranges = stage_layer_ranges(spec, pp)
            assert ranges == [tuple(r) for r in stage_bounds(spec, pp)]
            assert ranges[0][0] == 0 and ranges[-1][1] == spec.num_layers
            assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(ranges, ranges[1:]))
            if spec in SPECS.values():
                assert [build_stage(spec, pp, s).layer_range for s in range(pp)] == ranges
    with pytest.raises(ValueError, match="pp=9"):
        stage_layer_ranges(moe, 9)


def test_dtype_and_weight_bytes():
    spec = SPECS["gpt"]
    stage = build_stage(spec, 2, 1, dtype=torch.bfloat16)
    assert {p.dtype for p in stage.parameters()} == {torch.bfloat16}
    assert stage.weight_bytes == 2 * stage.num_params
    out = _run([stage], stage.example_input(2, 4))
    assert out.dtype == torch.bfloat16 and out.shape == (2, spec.hidden_size)


def test_bad_inputs_are_rejected_with_clear_errors():
    spec = SPECS["bert"]
    first = build_stage(spec, 2, 0)
    with pytest.raises(ValueError, match="seq_len"):
        first(torch.zeros(1, spec.seq_len + 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="int64 token ids"):
        first(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="hidden states"):
        build_stage(spec, 2, 1)(torch.zeros(1, 4, 7))
    with pytest.raises(ValueError, match="stage 2"):
        build_stage(spec, 2, 2)


def _tp_worker(rank, world, init_file, tokens, out_file):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        outputs = {}
        for family, spec in SPECS.items():
            stages = [build_stage(spec, 2, s, seed=4, tp=TensorParallel(rank, world)) for s in range(2)]
            outputs[family] = (_run(stages, tokens[family]), sum(st.num_params for st in stages))
        if rank == 0:
            torch.save(outputs, out_file)
        # Both ranks leave together: a rank that tears gloo down while its peer is still
        # talking makes the peer abort.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_tensor_parallel_op2_matches_unsharded(tmp_path):
    tokens = {family: _tokens(spec) for family, spec in SPECS.items()}
    out_file = tmp_path / "rank0.pt"
    torch.multiprocessing.spawn(_tp_worker, args=(2, str(tmp_path / "init"), tokens, str(out_file)),
                                nprocs=2, join=True)
    sharded = torch.load(out_file)
    for family, spec in SPECS.items():
        output, shard_params = sharded[family]
        whole = _run([build_model(spec, 4)], tokens[family])
        assert torch.allclose(output, whole, atol=1e-5), family
        assert shard_params < spec.num_params  # each rank holds only its shard of the layers


def test_core_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, alpa_serve_like, alpa_serve_like.core.layer_partition, alpa_serve_like.profiling; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
