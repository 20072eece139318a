"""The separate HTTP ingress deployment (FastAPI) that forwards to the Controller over a handle.

Used with ``serve run alpa_serve_like.serve:app ingress=separate``; it can run several replicas
and keeps HTTP parsing off the controller, at the cost of one more hop per request (the default,
``ingress=fused``, serves HTTP from the controller itself: see ``serving_controller``). Routes and
status codes are the same in both: ``controllers.http_common``.
"""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.controllers.http_common import infer_response
from alpa_serve_like.controllers.kserve_routes import kserve_v2_routes
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, document_request_bodies, request_body
from alpa_serve_like.runtime import kserve_v2
from alpa_serve_like.runtime.http_schemas import V1InferRequest, V1InferResponse

api = FastAPI(title="alpa_serve_like", description="AlpaServe-style multi-model serving")
document_request_bodies(api)


@serve.deployment(max_ongoing_requests=10_000, ray_actor_options={"num_cpus": 0.1})
@serve.ingress(api)
class Ingress(kserve_v2_routes(api)):
    def __init__(self, controller: DeploymentHandle, models: list, max_body_bytes: int, retry_after_s: int = 1):
        self.controller = controller
        self.specs = {m: instance_spec(m) for m in models}
        self.max_body_bytes = int(max_body_bytes)
        self.retry_after_s = int(retry_after_s)

    async def _forward(self, parsed, arrival_s: float) -> dict:
        return await self.controller.infer.remote(parsed.model, parsed.length, parsed.tokens,
                                                  parsed.slo_s, arrival_s)

    # ---- KServe v2 hooks (controllers.kserve_routes) ----
    async def _v2_serve(self, parsed, arrival_s: float) -> dict:
        return await self._forward(parsed, arrival_s)

    def _v2_limits(self):
        return self.max_body_bytes, self.retry_after_s, None

    async def _v2_models_ready(self) -> dict:
        return kserve_v2.models_ready(await self.controller.group_status.remote())

    @api.post("/v1/models/{name}/infer", response_model=V1InferResponse, openapi_extra=request_body(V1InferRequest),
              responses=ERROR_RESPONSES)
    async def infer(self, name: str, request: Request) -> JSONResponse:
        return await infer_response(name, request, self.specs, self.max_body_bytes, self._forward,
                                    retry_after_s=self.retry_after_s)

    @api.get("/v1/models")
    async def models(self) -> JSONResponse:
        return JSONResponse({"models": await self.controller.models.remote()})

    @api.get("/v1/stats")
    async def stats(self) -> JSONResponse:
        return JSONResponse(await self.controller.stats.remote())

    @api.get("/health")
    async def health(self) -> JSONResponse:
        try:
            return JSONResponse(await self.controller.health.remote())
        except Exception as exc:
            return JSONResponse({"status": "down", "error": str(exc)}, status_code=503,
                                headers={"Retry-After": str(self.retry_after_s)})
