"""CNN kernel estimates: the shipped layer table and hand-computed roofline kernels."""
import math

import pytest

from alpa_serve_like.core.gpu_sm import GPU_SM_SPECS, get_gpu_sm_spec
from alpa_serve_like.cost_model import cnn_kernels as ck
from alpa_serve_like.cost_model.cnn_layers import LayerShape, load_layers, save_layers

T4 = get_gpu_sm_spec("t4")


def test_shipped_table_has_the_eight_cnns_with_their_layer_counts():
    layers = load_layers()
    assert sorted(layers) == ["densenet121", "googlenet", "inception_v3", "mobilenetv2", "resnet18", "resnet34",
                              "resnet50", "squeezenet1.1"]
    # resnet18: 20 convolutions (17 + 3 downsampling) + max pool + average pool + fc
    assert len(layers["resnet18"]) == 23
    assert [l.kind for l in layers["resnet18"]].count("conv") == 20
    assert len(layers["resnet50"]) == 56  # 53 convolutions + 2 pools + fc
    assert layers["inception_v3"][0].in_shape == (3, 299, 299)
    assert layers["resnet18"][-1] == LayerShape("fc", "linear", (512, 1, 1), (1000, 1, 1), (1, 1), 1, 513000)


def test_save_and_load_round_trip(tmp_path):
    table = {"m": [LayerShape("c", "conv", (3, 8, 8), (4, 8, 8), (3, 3), 1, 112)]}
    save_layers(table, tmp_path / "t.json", "test")
    assert load_layers(tmp_path / "t.json") == table
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="no 'models' key"):
        load_layers(tmp_path / "bad.json")


def test_conv_is_an_implicit_gemm_split_along_k_when_the_grid_is_small():
    # 56x56 output, 64 -> 64 channels, 3x3: M = 3136, N = 64, K = 576 -> 49 x 1 tiles;
    # 98 blocks would exceed 40 SMs, so no split. FLOPs = 2 * 3136 * 64 * 576.
    conv = LayerShape("c", "conv", (64, 56, 56), (64, 56, 56), (3, 3), 1, 64 * 64 * 9)
    k = ck.layer_kernel(conv, T4)
    assert (k.blocks, k.threads_per_block, k.registers_per_thread, k.shared_mem_bytes) == (49, 128, 128, 16384)
    flops = 2.0 * 3136 * 64 * 576
    nbytes = 2 * (2 * 64 * 56 * 56 + 64 * 64 * 9)
    assert k.flops == flops and k.bytes == nbytes
    # T4 holds 4 such blocks per SM (registers: 65536 / (128 * 128)); all 49 are resident and hold
    # 49 * 128 * 128 of the 40 * 65536 registers: the kernel runs at that share of the device.
    share = 49 * 128 * 128 / (40 * 65536)
    assert T4.wave_share(49, 128, 128, 16384) == pytest.approx(share)
    assert k.duration_s == pytest.approx(ck.LAUNCH_S + max(flops / (65e12 * 0.5 * share),
                                                           nbytes / (320e9 * 0.7 * share)))
    # 7x7 output, 512 -> 512, 3x3: 1 x 8 tiles = 8 blocks; K = 4608 -> split 4 (32 blocks; 64 > 40)
    small = LayerShape("s", "conv", (512, 7, 7), (512, 7, 7), (3, 3), 1, 512 * 512 * 9)
    assert ck.layer_kernel(small, T4).blocks == 32
    # 132 SMs: split 16 (128 blocks, K slices of 288); 32 would need 256 blocks
    assert ck.layer_kernel(small, get_gpu_sm_spec("h100")).blocks == 128


def test_depthwise_and_pool_are_elementwise_and_copies_use_no_sms():
    dw = LayerShape("dw", "conv", (32, 112, 112), (32, 112, 112), (3, 3), 32, 32 * 9)
    k = ck.layer_kernel(dw, T4)
    assert k.blocks == math.ceil(32 * 112 * 112 / 256) and k.threads_per_block == 256
    assert k.flops == 2.0 * 32 * 112 * 112 * 9
    copy = ck.copy_kernel("in", 1e6, T4)
    assert copy.blocks == 0 and copy.duration_s == pytest.approx(ck.COPY_LATENCY_S + 1e6 / 15.75e9)


def test_model_kernels_bracket_layers_with_copies_and_faster_devices_are_faster():
    layers = load_layers()["resnet50"]
    totals = [sum(k.duration_s for k in ck.model_kernels(layers, s)) for s in GPU_SM_SPECS.values()]
    assert totals == sorted(totals, reverse=True)  # t4 > v100 > a100 > h100
    ks = ck.model_kernels(layers, T4)
    assert ks[0].name == "input h2d" and ks[-1].name == "output d2h" and len(ks) == len(layers) + 2


def test_transformer_stage_layers_are_gemms_and_elementwise_kernels():
    from alpa_serve_like.core.zoo import get_spec
    from alpa_serve_like.cost_model.transformer_kernels import transformer_stage_layers

    spec = get_spec("bert-1.3b")
    s, h, a = spec.seq_len, spec.hidden_size, spec.num_heads
    first = transformer_stage_layers(spec, 0, 2)
    assert [l.name for l in first][:2] == ["embedding", "layer0.qkv"] and len(first) == 1 + 2 * 9
    later = transformer_stage_layers(spec, 2, 3)
    assert len(later) == 9
    qkv = ck.layer_kernel(later[0], T4)
    assert qkv.flops == 2.0 * s * 3 * h * h                   # M = seq, N = 3h, K = h
    scores = ck.layer_kernel(later[1], T4)
    assert scores.flops == 2.0 * s * s * (h // a) * a          # per head: seq x seq x head_dim
    # the GEMM FLOPs of a layer: 2 * seq * (4h^2 + 2 * ffn_mult * h^2) + 4 * seq^2 * h
    gemm_flops = sum(ck.layer_kernel(l, T4).flops for l in later if l.kind == "conv")
    assert gemm_flops == 2.0 * s * (4 * h * h + 2 * spec.ffn_mult * h * h) + 4.0 * s * s * h
    with pytest.raises(ValueError, match=r"layer range \[3, 2\)"):
        transformer_stage_layers(spec, 3, 2)


def test_bert_kernel_estimate_is_near_alpaserves_measured_v100_latency():
    import json
    from importlib import resources

    from alpa_serve_like.core.zoo import get_spec
    from alpa_serve_like.cost_model.transformer_kernels import transformer_stage_layers

    ref = json.loads(resources.files("alpa_serve_like").joinpath(
        "data", "alpaserve_v100_bert-1.3b_stage_latency.json").read_text())
    measured_s = ref["latency_s"]["op1_pp1"]["1"][0]          # 98.9 ms, batch 1, one V100
    spec = get_spec("bert-1.3b")
    layers = transformer_stage_layers(spec, 0, spec.num_layers)
    estimate_s = sum(k.duration_s for k in ck.model_kernels(layers, GPU_SM_SPECS["v100"]))
    assert 0.5 < estimate_s / measured_s < 2.0                 # 125 ms today: within 27%
