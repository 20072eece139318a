"""The model zoo: AlpaServe shapes, MoE sizes matching their names, lookups with clear errors."""
import re

import pytest

from alpa_serve_like.core.zoo import ALPASERVE_MODELS, TINY_MODELS, ZOO, get_spec, parse_model_list


@pytest.mark.parametrize("name", ALPASERVE_MODELS)
def test_parameter_count_matches_name(name):
    billions = float(re.search(r"-([\d.]+)b$", name).group(1))
    assert ZOO[name].num_params == pytest.approx(billions * 1e9, rel=0.05)


@pytest.mark.parametrize("name, seq, hidden, layers, heads", [
    ("bert-1.3b", 2048, 2048, 24, 32),
    ("bert-2.6b", 2048, 2560, 32, 32),
    ("bert-6.7b", 2048, 4096, 32, 32),
    ("bert-103.5b", 1024, 8192, 128, 64),
])
def test_bert_shapes_are_alpaserves(name, seq, hidden, layers, heads):
    spec = ZOO[name]
    assert (spec.seq_len, spec.hidden_size, spec.num_layers, spec.num_heads) == (seq, hidden, layers, heads)
    assert spec.vocab_size == 51200 and spec.family == "bert" and spec.dtype == "float16"


@pytest.mark.parametrize("name", [n for n in ALPASERVE_MODELS if n.startswith("moe")])
def test_moe_models_are_gshard_style(name):
    spec = ZOO[name]
    assert spec.family == "moe" and spec.top_k == 2 and spec.num_experts >= 8
    assert sum(spec.is_moe_layer) == spec.num_layers // 2
    # Experts dominate the parameter count: that is what makes them MoE-sized.
    expert_params = sum(spec.layer_params(i) for i in range(spec.num_layers) if spec.is_moe_layer[i])
    assert expert_params > 0.7 * spec.num_params


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_models_are_cpu_sized(name):
    spec = ZOO[name]
    assert spec.num_params < 20e6 and spec.seq_len <= 128 and spec.dtype == "float32"


def test_tiny_models_cover_both_dense_families():
    assert {ZOO[n].family for n in TINY_MODELS} == {"bert", "gpt"}


def test_get_spec_unknown_lists_known_names():
    with pytest.raises(KeyError, match="bert-1.3b.*gpt-tiny"):
        get_spec("bert-9b")
    assert get_spec("moe-2.4b") is ZOO["moe-2.4b"]


def test_parse_model_list_keeps_order_and_drops_duplicates():
    specs = parse_model_list(" moe-1.3b,bert-tiny,moe-1.3b ,")
    assert [s.name for s in specs] == ["moe-1.3b", "bert-tiny"]
    with pytest.raises(ValueError, match="empty model list"):
        parse_model_list(" , ")
    with pytest.raises(KeyError, match="not in the zoo"):
        parse_model_list("bert-tiny,nope")
