"""The HTTP side shared by both ingress forms (a separate ``Ingress`` or the fused controller).

``infer_response`` validates one ``POST /v1/models/{name}/infer`` and hands the parsed request to a
coroutine that serves it; every validation failure becomes its HTTP status here, so bad requests
never reach the scheduler.
"""
import time
from typing import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from alpa_serve_like.runtime.requests import HttpError, InferRequest, check_body_size, parse_infer_body, unknown_model


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, failing with 413 as soon as it passes ``limit`` bytes (chunked uploads too)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        check_body_size(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        check_body_size(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def infer_response(name: str, request: Request, specs: dict, max_body_bytes: int,
                         serve_request: Callable[[InferRequest, float], Awaitable[dict]]) -> JSONResponse:
    """Validate, serve with ``serve_request(parsed, arrival_s)``, and turn its dict into a response."""
    arrival_s = time.time()
    try:
        spec = specs.get(name)
        if spec is None:
            raise unknown_model(name, list(specs))
        body = await read_limited(request, max_body_bytes)
        parsed = parse_infer_body(body, name, spec, max_body_bytes)
    except HttpError as err:
        return JSONResponse(err.body(), status_code=err.status)
    try:
        out = dict(await serve_request(parsed, arrival_s))
    except Exception as exc:  # the controller itself is gone or restarting
        return JSONResponse({"error": f"controller unavailable: {type(exc).__name__}: {exc}",
                             "reason": "controller_unavailable"}, status_code=503)
    status = out.pop("status")
    return JSONResponse(out, status_code=status)
