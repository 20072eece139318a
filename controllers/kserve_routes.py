"""KServe v2 / Triton routes (``/v2/...``), added to either HTTP front end as a mixin.

``kserve_v2_routes(api)`` returns a class whose methods are routes of ``api``; ``Ingress`` and
``ServingController`` inherit it and provide ``specs``, ``_v2_serve`` (forward one parsed request),
``_v2_limits`` (max body bytes, retry-after seconds, body timeout, overload check or None) and
``_v2_models_ready``. The translation is ``alpa_serve_like.runtime.kserve_v2``; validation,
admission and status codes are the ``/v1`` ones (``http_common``). Not ready (a model without a
warm group up, or the controller lost) answers 503 with ``Retry-After``.
"""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from alpa_serve_like import __version__
from alpa_serve_like.controllers.http_common import infer_response
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, request_body
from alpa_serve_like.runtime import http_schemas as schemas
from alpa_serve_like.runtime.kserve_v2 import model_metadata, server_metadata
from alpa_serve_like.runtime.requests import unknown_model

def kserve_v2_routes(api: FastAPI) -> type:
    """A mixin class whose methods serve the v2 protocol on ``api``."""

    class KServeV2Routes:
        def _unavailable(self, message: str, reason: str) -> Response:
            retry_after_s = self._v2_limits()[1]
            return JSONResponse({"error": message, "reason": reason}, status_code=503,
                                headers={"Retry-After": str(int(retry_after_s))})

        async def _ready_or_503(self, names: list[str], what: str) -> Response:
            """200 when every model of ``names`` has a group up, else 503 with ``Retry-After``."""
            try:
                ready = await self._v2_models_ready()
            except Exception as exc:  # the controller is gone or restarting
                return self._unavailable(f"controller unavailable: {type(exc).__name__}: {exc}",
                                         "controller_unavailable")
            if all(ready.get(name) for name in names):
                return Response(status_code=200)
            return self._unavailable(f"{what} not ready: no group hosting "
                                     f"{', '.join(n for n in names if not ready.get(n))} is up", "not_ready")

        @api.get("/v2", response_model=schemas.V2ServerMetadata)
        async def v2_server(self) -> JSONResponse:
            return JSONResponse(server_metadata(__version__))

        @api.get("/v2/health/live")
        async def v2_live(self) -> Response:
            return Response(status_code=200)

        @api.get("/v2/health/ready", responses={503: ERROR_RESPONSES[503]})
        async def v2_ready(self) -> Response:
            # Ready when every model can be served: a load balancer may then send any request here.
            return await self._ready_or_503(list(self.specs), "server")

        @api.get("/v2/models/{name}", response_model=schemas.V2ModelMetadata, responses={404: ERROR_RESPONSES[404]})
        async def v2_model(self, name: str) -> JSONResponse:
            if name not in self.specs:
                err = unknown_model(name, list(self.specs))
                return JSONResponse(err.body(), status_code=404)
            return JSONResponse(model_metadata(name))

        @api.get("/v2/models/{name}/ready", responses={404: ERROR_RESPONSES[404], 503: ERROR_RESPONSES[503]})
        async def v2_model_ready(self, name: str) -> Response:
            if name not in self.specs:
                err = unknown_model(name, list(self.specs))
                return JSONResponse(err.body(), status_code=404)
            return await self._ready_or_503([name], f"model {name!r}")

        @api.post("/v2/models/{name}/infer", response_model=schemas.V2InferResponse, responses=ERROR_RESPONSES,
                  openapi_extra=request_body(schemas.V2InferRequest))
        async def v2_infer(self, name: str, request: Request) -> JSONResponse:
            max_body_bytes, retry_after_s, body_timeout_s, overloaded = self._v2_limits()
            return await infer_response(name, request, self.specs, max_body_bytes, self._v2_serve,
                                        retry_after_s=retry_after_s, body_timeout_s=body_timeout_s,
                                        overloaded=overloaded, v2=True)

    return KServeV2Routes
