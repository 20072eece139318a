"""The HTTP side shared by both ingress forms (a separate ``Ingress`` or the fused controller).

``infer_response`` stamps the arrival first, sheds the request if the server is overloaded (before
reading or parsing its body), validates one ``POST /v1/models/{name}/infer`` and hands the parsed
request to a coroutine that serves it. Every validation failure becomes its HTTP status here, so bad
requests never reach the scheduler, and ``result_response`` maps the controller's result outcomes to
HTTP: ok 200, not_found 404, rejected 503 (with ``Retry-After``), failed 503 (``Retry-After``)
except a model error, 500.
"""
import asyncio
import time
from typing import Awaitable, Callable, Optional

from fastapi import Request
from starlette.requests import ClientDisconnect
from fastapi.responses import JSONResponse

from alpa_serve_like.runtime.controller_state import await_within, first_line
from alpa_serve_like.runtime.kserve_v2 import format_v2_result, parse_v2_infer_body
from alpa_serve_like.runtime.requests import HttpError, InferRequest, check_body_size, parse_infer_body, unknown_model


async def read_limited(request: Request, limit: int, timeout_s: float = 10.0) -> bytes:
    """The body, failing with 413 as soon as it passes ``limit`` bytes (chunked uploads too), and
    with 408 if it has not fully arrived within ``timeout_s`` (a slow or stalled sender must not
    hold a slot of the server) or the client went away mid-body."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        check_body_size(int(declared), limit)
    chunks, size = [], 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            check_body_size(size, limit)
            chunks.append(chunk)

    try:
        await await_within(read(), timeout_s)
    except asyncio.TimeoutError:
        raise HttpError(408, f"the request body did not arrive within {timeout_s:g} s "
                             f"({size} bytes received); send it at once") from None
    except ClientDisconnect:
        raise HttpError(408, f"the client disconnected after {size} bytes of the body") from None
    return b"".join(chunks)


def result_response(result: dict, retry_after_s: int,
                    ok_body: Optional[Callable[[dict], dict]] = None) -> JSONResponse:
    """The HTTP response for one result dict of ``ControllerCore.infer``; ``ok_body`` reshapes a
    200 body (the v2 protocol's tensors)."""
    body = dict(result)
    outcome = body.pop("outcome")
    if outcome == "ok":
        return JSONResponse(body if ok_body is None else ok_body(body), status_code=200)
    if outcome == "not_found":
        return JSONResponse(body, status_code=404)
    if outcome == "failed" and body.get("reason") == "stage_error":
        return JSONResponse(body, status_code=500)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(int(retry_after_s))})


def health_response(health: dict, retry_after_s: int) -> JSONResponse:
    """``/health``: 200 when ``ok`` or ``degraded`` (it serves), 503 with ``Retry-After`` while it
    is ``warming_up`` (not ready for user traffic yet)."""
    if health.get("status") == "warming_up":
        return JSONResponse(health, status_code=503, headers={"Retry-After": str(int(retry_after_s))})
    return JSONResponse(health, status_code=200)


REQUEST_START_HEADER = "x-request-start"
"""``X-Request-Start: t=<time>``: when the client (or a front proxy) sent the request, the
convention of nginx (``t=<unix s>.<ms>``), HAProxy and APM agents (integer milli- or microseconds,
``runtime.haproxy_gate`` sends microseconds). Taken as the arrival when it is earlier than the
handler's own stamp (by at most ``_MAX_REQUEST_START_AGE_S``), so time queued in a proxy in front
counts against the deadline too."""
_MAX_REQUEST_START_AGE_S = 60.0
# The unit of a request-start value, told from its size as APM agents do: unix time now is ~1.8e9
# s, so a value past 1e11 cannot be seconds (year 5138), past 1e14 not milliseconds, past 1e17 not
# microseconds.
_REQUEST_START_UNITS = ((1e17, 1e-9), (1e14, 1e-6), (1e11, 1e-3))


def parse_request_start(raw: str) -> Optional[float]:
    """Unix seconds of an ``X-Request-Start`` value (``t=`` optional; seconds, or integer milli-,
    micro- or nanoseconds told from the size); None when it is not a number."""
    try:
        value = float(raw.strip().removeprefix("t="))
    except ValueError:
        return None
    if not value == value or value in (float("inf"), float("-inf")):
        return None
    scale = next((s for limit, s in _REQUEST_START_UNITS if value >= limit), 1.0)
    return value * scale


def arrival_time_s(request: Request, now_s: float) -> float:
    """The earliest trustworthy arrival stamp: the header's if present and plausible, else ``now_s``."""
    raw = request.headers.get(REQUEST_START_HEADER)
    sent_s = parse_request_start(raw) if raw else None
    if sent_s is None:
        return now_s
    return sent_s if now_s - _MAX_REQUEST_START_AGE_S <= sent_s <= now_s else now_s


async def infer_response(name: str, request: Request, specs: dict, max_body_bytes: int,
                         serve_request: Callable[[InferRequest, float], Awaitable[dict]], *,
                         retry_after_s: int = 1, body_timeout_s: float = 10.0,
                         overloaded: Optional[Callable[[], bool]] = None, v2: bool = False) -> JSONResponse:
    """Validate, serve with ``serve_request(parsed, arrival_s)``, and turn its result into a response.
    ``v2``: the body and the answer are KServe v2 tensors (``runtime.kserve_v2``); the rest is shared."""
    arrival_s = arrival_time_s(request, time.time())  # first thing: the deadline counts from here
    if overloaded is not None and overloaded():
        return JSONResponse({"error": "the server is overloaded; retry later", "reason": "overloaded"},
                            status_code=503, headers={"Retry-After": str(int(retry_after_s))})
    try:
        spec = specs.get(name)
        if spec is None:
            raise unknown_model(name, list(specs))
        body = await read_limited(request, max_body_bytes, body_timeout_s)
        if v2:
            parsed, context = parse_v2_infer_body(body, name, spec, max_body_bytes)
        else:
            parsed, context = parse_infer_body(body, name, spec, max_body_bytes), None
    except HttpError as err:
        return JSONResponse(err.body(), status_code=err.status)
    try:
        result = await serve_request(parsed, arrival_s)
    except Exception as exc:  # the controller itself is gone, restarting, or its queue is full
        return JSONResponse({"error": f"controller unavailable: {first_line(exc)}",
                             "reason": "controller_unavailable"}, status_code=503,
                            headers={"Retry-After": str(int(retry_after_s))})
    ok_body = (lambda ok: format_v2_result(name, ok, context)) if v2 else None
    return result_response(result, retry_after_s, ok_body)
