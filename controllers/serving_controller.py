"""The controller serving HTTP itself (``ingress=fused``): one hop less per request.

Same routes and status codes as the separate ``Ingress`` (``controllers.http_common``), served
from the controller's replica, so a request goes proxy -> controller -> stage actors. On a small
machine the extra ingress -> controller handle call costs more than the model (see
benchmarks/bench_runtime_overhead.py), and under overload it kept admitted attainment where the
separate ingress did not (README), so it is the default. The price: when this replica dies, Serve's
proxy holds requests until a new one is up (seconds) instead of answering (the HAProxy gate answers
503 ``gate_timeout`` at once; so does the separate ``Ingress``). The hot infer route is served past
FastAPI's routing and dependency solving (``infer_fast_path``), answering as the route does.
"""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve

from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.controllers.app_routes import compound_app_routes, served_apps
from alpa_serve_like.controllers.controller import DEPLOYMENT_OPTIONS, ControllerBase
from alpa_serve_like.controllers.http_common import health_response, infer_response
from alpa_serve_like.controllers.infer_fast_path import INFER_PATH, InferFastPath, replica_infer_handler
from alpa_serve_like.controllers.kserve_routes import kserve_v2_routes
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, document_request_bodies, request_body
from alpa_serve_like.runtime import kserve_v2
from alpa_serve_like.runtime.http_schemas import V1InferRequest, V1InferResponse
from alpa_serve_like.runtime.requests import InferRequest


api = FastAPI(title="alpa_serve_like", description="AlpaServe-style multi-model serving")
document_request_bodies(api)
api.add_middleware(InferFastPath, find_handler=replica_infer_handler)


@serve.deployment(**DEPLOYMENT_OPTIONS)
@serve.ingress(api)
class ServingController(kserve_v2_routes(api), compound_app_routes(api), ControllerBase):
    def __init__(self, placement: dict, options: dict, profiles_db: dict, apps: list | None = None):
        super().__init__(placement, options, profiles_db)
        self.specs = {m: instance_spec(m) for m in self.placement.models}
        self.apps = served_apps(apps or [], self.placement.models)  # compound applications (app_routes)

    async def _serve(self, parsed, arrival_s: float) -> dict:
        return await self.core.infer(parsed, arrival_s)

    async def _app_serve_task(self, model: str, tokens: tuple, slo_s: float, arrival_s: float) -> dict:
        return await self.core.infer(InferRequest(model, len(tokens), tokens, slo_s), arrival_s)

    # ---- KServe v2 hooks (controllers.kserve_routes) ----
    async def _v2_serve(self, parsed, arrival_s: float) -> dict:
        return await self._serve(parsed, arrival_s)

    def _v2_limits(self):
        return self.options.max_body_bytes, self.options.retry_after_s, self.options.body_timeout_s, self.core.overloaded

    async def _v2_models_ready(self) -> dict:
        return kserve_v2.models_ready(self.core.group_status())

    @api.post(INFER_PATH, response_model=V1InferResponse, openapi_extra=request_body(V1InferRequest),
              responses=ERROR_RESPONSES)
    async def http_infer(self, name: str, request: Request) -> JSONResponse:
        return await self._infer(name, request)

    async def _infer(self, name: str, request: Request) -> JSONResponse:
        """The infer route's handler; ``InferFastPath`` calls it directly (module docstring)."""
        return await infer_response(name, request, self.specs, self.options.max_body_bytes, self._serve,
                                    retry_after_s=self.options.retry_after_s, overloaded=self.core.overloaded,
                                    body_timeout_s=self.options.body_timeout_s)

    @api.get("/v1/models")
    async def http_models(self) -> JSONResponse:
        return JSONResponse({"models": self.models()})

    @api.get("/v1/stats")
    async def http_stats(self) -> JSONResponse:
        return JSONResponse(self.stats())

    @api.get("/health")
    async def http_health(self) -> JSONResponse:
        return health_response(self.health(), self.options.retry_after_s)
