"""KServe v2 / Triton JSON tensors <-> this server's requests and results (no Ray)."""
import json

import pytest

from alpa_serve_like.core.zoo import get_spec
from alpa_serve_like.runtime.kserve_v2 import format_v2_result, model_metadata, models_ready, parse_v2_infer_body
from alpa_serve_like.runtime.requests import HttpError, InferRequest, parse_infer_body

SPEC = get_spec("bert-tiny")  # seq_len 128, vocab 1024


def v2(tokens, shape=None, datatype="INT64", **extra):
    body = {"inputs": [{"name": "input_ids", "shape": shape or [1, len(tokens)], "datatype": datatype,
                        "data": tokens}], **extra}
    return json.dumps(body).encode()


def parse(raw, limit=1 << 20):
    return parse_v2_infer_body(raw, "bert-tiny-0", SPEC, limit)


def test_a_v2_tensor_becomes_the_same_request_as_the_v1_body():
    request, context = parse(v2([5, 6, 7], parameters={"slo_ms": 250}, id="r-1"))
    v1 = parse_infer_body(json.dumps({"input": [5, 6, 7], "slo_ms": 250}).encode(), "bert-tiny-0", SPEC, 1 << 20)
    assert request == v1 == InferRequest("bert-tiny-0", 3, (5, 6, 7), 0.25)
    assert context == {"id": "r-1", "outputs": ("norm", "head")}
    # nested row-major data, a flat shape and INT32 are accepted too
    assert parse(v2([[1, 2]], shape=[1, 2], datatype="INT32"))[0].tokens == (1, 2)
    assert parse(v2([1, 2], shape=[2]))[0].slo_s is None


@pytest.mark.parametrize("raw, words", [
    (v2([1, 2], shape=[2, 1]), "one sequence per request"),
    (v2([[1], [2]], shape=[2, 1]), "one sequence per request"),
    (v2([1, 2, 3], shape=[1, 2]), "shape [1, 2] but 3 values"),
    (v2([1], datatype="FP32"), "datatype"),
    (v2([1.5]), "data"),
    (v2([1], parameters={"slo": 5}), "slo"),
    (v2([1], parameters={"slo_ms": -1}), "slo_ms"),
    (v2([1, 5000]), "token ids must be integers in [0, 1024)"),
    (v2(list(range(129))), "more than 'bert-tiny' takes (128)"),
    (json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1]}]}).encode(), "input_ids"),
    (json.dumps({"input": [1]}).encode(), "not a KServe v2 infer request"),
    (b"[", "not valid JSON"),
])
def test_malformed_v2_bodies_are_400_naming_the_problem(raw, words):
    with pytest.raises(HttpError) as err:
        parse(raw)
    assert err.value.status == 400 and words in err.value.message


def test_an_oversized_v2_body_is_413():
    with pytest.raises(HttpError) as err:
        parse(v2(list(range(100))), limit=50)
    assert err.value.status == 413


def test_an_ok_result_becomes_fp32_tensors_with_timing_parameters():
    result = {"model": "bert-tiny-0", "output": {"norm": 3.5, "head": [0.1, -0.2, 0.3, 0.4]}, "group": 1,
              "batch_size": 2, "slo_met": True,
              "timing_ms": {"total": 12.5, "queue": 1.0, "stages": [5.0, 5.0], "hops": [0.5], "overhead": 1.5}}
    out = format_v2_result("bert-tiny-0", result, {"id": "r-1", "outputs": ("norm", "head")})
    assert out["model_name"] == "bert-tiny-0" and out["id"] == "r-1"
    assert out["outputs"] == [
        {"name": "norm", "shape": [1], "datatype": "FP32", "data": [3.5]},
        {"name": "head", "shape": [1, 4], "datatype": "FP32", "data": [0.1, -0.2, 0.3, 0.4]}]
    assert out["parameters"] == {"group": 1, "batch_size": 2, "slo_met": True, "latency_ms": 12.5, "queue_ms": 1.0}
    only_head = format_v2_result("bert-tiny-0", result, {"id": None, "outputs": ("head",)})
    assert [t["name"] for t in only_head["outputs"]] == ["head"] and "id" not in only_head
    _, asked = parse(v2([1], outputs=[{"name": "head"}]))
    assert asked["outputs"] == ("head",)


def test_metadata_and_readiness_per_model():
    meta = model_metadata("gpt-tiny-0")
    assert meta["name"] == "gpt-tiny-0" and meta["inputs"][0]["name"] == "input_ids"
    assert [t["name"] for t in meta["outputs"]] == ["norm", "head"]
    groups = [{"models": ["a", "b"], "up": False, "warm": True}, {"models": ["a"], "up": True, "warm": True},
              {"models": ["c"], "up": True, "warm": False}]
    assert models_ready(groups) == {"a": True, "b": False, "c": False}  # c: still warming up
