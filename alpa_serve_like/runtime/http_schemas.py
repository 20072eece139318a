"""Pydantic models of the HTTP bodies: ``/v1`` (ours) and KServe v2 / Triton (``/v2``).

They are the request and response schemas in ``/openapi.json`` and the structural parser of v2
request bodies (``kserve_v2.parse_v2_infer_body``). The v1 body keeps its hand-written parser
(``requests.parse_infer_body``) for its exact messages; ``V1InferRequest`` documents the same format.
Pure pydantic: no Ray, no FastAPI.
"""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- /v1 (ours) --------------------------------------------------------------------------------
class LengthInput(_Strict):
    length: StrictInt = Field(description="Draw this many random token ids on the server (keeps requests small).")


class V1InferRequest(_Strict):
    """``POST /v1/models/{name}/infer``."""

    input: Union[list[StrictInt], LengthInput] = Field(
        description="Token ids (integers in [0, vocab_size)) or {\"length\": n}.")
    slo_ms: Optional[Union[StrictInt, StrictFloat]] = Field(
        None, description="Latency objective in milliseconds; the server's default_slo_ms when absent.")


class OutputSummary(BaseModel):
    norm: float = Field(description="L2 norm of the output vector.")
    head: list[float] = Field(description="First features of the output vector.")


class TimingMs(BaseModel):
    total: float
    queue: float
    stages: list[float] = Field(description="Compute time of each pipeline stage.")
    hops: list[float] = Field(description="Dispatch -> stage 0, each stage handoff, last stage -> controller.")
    overhead: float


class V1InferResponse(BaseModel):
    """200 answer of ``POST /v1/models/{name}/infer``."""

    model: str
    output: OutputSummary
    group: int
    batch_size: int
    slo_met: bool
    timing_ms: TimingMs


class ErrorBody(BaseModel):
    """Every error (both protocols): a message that names the fix, and a machine-readable reason."""

    error: str
    reason: Optional[str] = Field(None, description="slo, doomed, overloaded, group_failed, group_down, ...")


# ---- KServe v2 / Triton --------------------------------------------------------------------------
class V2InputTensor(_Strict):
    name: str = Field(description="Must be input_ids.")
    shape: list[StrictInt] = Field(description="[1, n] or [n]: one sequence per request (the server batches).")
    datatype: Literal["INT64", "INT32"]
    data: Union[list[StrictInt], list[list[StrictInt]]] = Field(description="Token ids, flat or nested row-major.")
    parameters: Optional[dict] = None


class V2RequestedOutput(_Strict):
    name: Literal["norm", "head"]
    parameters: Optional[dict] = None


class V2Parameters(_Strict):
    slo_ms: Optional[Union[StrictInt, StrictFloat]] = Field(
        None, description="Latency objective in milliseconds (admission rejects requests that would miss it).")


class V2InferRequest(_Strict):
    """``POST /v2/models/{name}/infer`` (KServe v2 JSON tensors)."""

    id: Optional[str] = None
    inputs: list[V2InputTensor] = Field(min_length=1, max_length=1)
    outputs: Optional[list[V2RequestedOutput]] = Field(None, description="Subset of outputs to return; all when absent.")
    parameters: Optional[V2Parameters] = None


class V2OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: Literal["FP32"]
    data: list[float]


class V2ResponseParameters(BaseModel):
    group: int
    batch_size: int
    slo_met: bool
    latency_ms: float
    queue_ms: float


class V2InferResponse(BaseModel):
    """200 answer of ``POST /v2/models/{name}/infer``."""

    model_name: str
    model_version: str
    id: Optional[str] = None
    outputs: list[V2OutputTensor]
    parameters: V2ResponseParameters


class V2TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    """``GET /v2/models/{name}``."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2ServerMetadata(BaseModel):
    """``GET /v2``."""

    name: str
    version: str
    extensions: list[str]


REQUEST_SCHEMAS = (V1InferRequest, V2InferRequest)
"""Request bodies the routes read themselves (to shed and size-limit before parsing), so FastAPI
does not see them: ``controllers.openapi_docs`` adds them to ``/openapi.json``."""
