"""KServe v2 / Triton inference protocol (JSON tensors) mapped onto this server's requests (pure).

``POST /v2/models/{name}/infer`` carries one INT64/INT32 tensor ``input_ids`` of shape ``[1, n]`` (or
``[n]``) and optionally ``parameters.slo_ms``. It becomes the same ``InferRequest`` as a ``/v1`` body
(through ``requests.validated_request``), so admission, SLOs and batching are identical; the answer
is two FP32 tensors, ``norm`` ``[1]`` and ``head`` ``[1, k]``, with the timing in ``parameters``.
Errors keep this server's ``{"error": ..., "reason": ...}`` body (v2 asks for ``error``).
Protocol: https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
"""
from __future__ import annotations

import math

from pydantic import ValidationError

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.runtime.http_schemas import V2InferRequest
from alpa_serve_like.runtime.requests import HttpError, InferRequest, parse_json_body, shorten, validated_request

INPUT_NAME = "input_ids"
MODEL_VERSION = "1"
"""Models here have one version (the placement's); v2 clients that ask for versions get this one."""
OUTPUT_NAMES = ("norm", "head")
PLATFORM = "alpa_serve_like_pytorch"
_FORMAT = ('{"inputs": [{"name": "input_ids", "shape": [1, n], "datatype": "INT64", "data": [...]}], '
           '"parameters": {"slo_ms": optional}}')


def parse_v2_infer_body(body: bytes, model: str, spec: ModelSpec, max_body_bytes: int) -> tuple[InferRequest, dict]:
    """The validated request and a ``context`` (request id, requested outputs) for ``format_v2_result``.
    Raises ``HttpError`` 400 for a malformed body, 413 for an oversized one."""
    data = parse_json_body(body, max_body_bytes, _FORMAT)
    try:
        parsed = V2InferRequest.model_validate(data)
    except ValidationError as exc:
        raise HttpError(400, f"not a KServe v2 infer request ({_first_errors(exc)}); expected {_FORMAT}") from None
    tensor = parsed.inputs[0]
    if tensor.name != INPUT_NAME:
        raise HttpError(400, f"unknown input {shorten(tensor.name)}; {model!r} takes one input named {INPUT_NAME!r}")
    tokens = tensor.data
    if tokens and isinstance(tokens[0], list):
        if len(tokens) != 1:
            raise HttpError(400, f"input_ids holds {len(tokens)} rows; send one sequence per request "
                                 "(the server batches concurrent requests itself)")
        tokens = tokens[0]
    shape = tensor.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[0] == 1)):
        raise HttpError(400, f"input_ids has shape {shorten(shape)}; expected [1, n] or [n] "
                             "(one sequence per request; the server batches)")
    if math.prod(shape) != len(tokens):
        raise HttpError(400, f"input_ids has shape {shorten(shape)} but {len(tokens)} values")
    slo_ms = parsed.parameters.slo_ms if parsed.parameters is not None else None
    request = validated_request(list(tokens), slo_ms, model, spec)
    wanted = tuple(o.name for o in parsed.outputs) if parsed.outputs else OUTPUT_NAMES
    return request, {"id": parsed.id, "outputs": wanted}


def format_v2_result(model: str, result: dict, context: dict) -> dict:
    """The v2 response body of one ``ok`` result of ``ControllerCore.infer`` (``outcome`` removed)."""
    summary = result["output"]
    tensors = {
        "norm": {"name": "norm", "shape": [1], "datatype": "FP32", "data": [summary["norm"]]},
        "head": {"name": "head", "shape": [1, len(summary["head"])], "datatype": "FP32", "data": list(summary["head"])},
    }
    timing = result["timing_ms"]
    out = {"model_name": model, "model_version": MODEL_VERSION,
           "outputs": [tensors[name] for name in context["outputs"]],
           "parameters": {"group": result["group"], "batch_size": result["batch_size"], "slo_met": result["slo_met"],
                          "latency_ms": timing["total"], "queue_ms": timing["queue"]}}
    if context.get("id") is not None:
        out["id"] = context["id"]
    return out


def model_metadata(name: str) -> dict:
    """``GET /v2/models/{name}``: every model takes token ids and answers the same two tensors."""
    return {"name": name, "versions": [MODEL_VERSION], "platform": PLATFORM,
            "inputs": [{"name": INPUT_NAME, "datatype": "INT64", "shape": [1, -1]}],
            "outputs": [{"name": "norm", "datatype": "FP32", "shape": [1]},
                        {"name": "head", "datatype": "FP32", "shape": [1, -1]}]}


def server_metadata(version: str) -> dict:
    """``GET /v2``."""
    return {"name": "alpa_serve_like", "version": version, "extensions": []}


def models_ready(group_status: list[dict]) -> dict[str, bool]:
    """Per model: whether some group hosting it is up and warmed up (``ControllerCore.group_status`` rows)."""
    ready: dict[str, bool] = {}
    for group in group_status:
        serving = bool(group["up"]) and bool(group.get("warm", True))
        for name in group["models"]:
            ready[name] = ready.get(name, False) or serving
    return ready


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(x) for x in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
