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
from alpa_serve_like.runtime.controller_state import first_line
from alpa_serve_like.runtime.controller_watch import ControllerWatch
from alpa_serve_like.controllers.http_common import health_response, infer_response
from alpa_serve_like.controllers.kserve_routes import kserve_v2_routes
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, document_request_bodies, request_body
from alpa_serve_like.runtime import kserve_v2
from alpa_serve_like.runtime.http_schemas import V1InferRequest, V1InferResponse

api = FastAPI(title="alpa_serve_like", description="AlpaServe-style multi-model serving")
document_request_bodies(api)


@serve.deployment(max_ongoing_requests=10_000, ray_actor_options={"num_cpus": 0.1})
@serve.ingress(api)
class Ingress(kserve_v2_routes(api)):
    def __init__(self, controller: DeploymentHandle, models: list, max_body_bytes: int, retry_after_s: int = 1,
                 controller_timeout_s: float = 1.0, body_timeout_s: float = 10.0):
        self.controller = controller
        # Losing the controller answers 503 controller_unavailable within ~timeout instead of
        # holding requests while Serve restarts it (runtime.controller_watch).
        self.watch = ControllerWatch(lambda: controller.ping.remote(), timeout_s=controller_timeout_s,
                                     period_s=min(0.25, controller_timeout_s))
        self.specs = {m: instance_spec(m) for m in models}
        self.max_body_bytes = int(max_body_bytes)
        self.retry_after_s = int(retry_after_s)
        self.body_timeout_s = float(body_timeout_s)

    async def _forward(self, parsed, arrival_s: float) -> dict:
        return await self.watch.guard(lambda: self.controller.infer.remote(
            parsed.model, parsed.length, parsed.tokens, parsed.slo_s, arrival_s))

    # ---- KServe v2 hooks (controllers.kserve_routes) ----
    async def _v2_serve(self, parsed, arrival_s: float) -> dict:
        return await self._forward(parsed, arrival_s)

    def _v2_limits(self):
        return self.max_body_bytes, self.retry_after_s, self.body_timeout_s, None

    async def _v2_models_ready(self) -> dict:
        return kserve_v2.models_ready(await self.watch.guard(lambda: self.controller.group_status.remote()))

    @api.post("/v1/models/{name}/infer", response_model=V1InferResponse, openapi_extra=request_body(V1InferRequest),
              responses=ERROR_RESPONSES)
    async def infer(self, name: str, request: Request) -> JSONResponse:
        return await infer_response(name, request, self.specs, self.max_body_bytes, self._forward,
                                    retry_after_s=self.retry_after_s, body_timeout_s=self.body_timeout_s)

    async def _ask(self, method: str) -> JSONResponse | dict:
        """``controller.<method>()`` through the watch: a lost controller is a prompt 503."""
        try:
            return await self.watch.guard(lambda: getattr(self.controller, method).remote())
        except Exception as exc:
            return JSONResponse({"status": "down", "reason": "controller_unavailable",
                                 "error": f"controller unavailable: {first_line(exc)}"}, status_code=503,
                                headers={"Retry-After": str(self.retry_after_s)})

    @api.get("/v1/models")
    async def models(self) -> JSONResponse:
        out = await self._ask("models")
        return out if isinstance(out, JSONResponse) else JSONResponse({"models": out})

    @api.get("/v1/stats")
    async def stats(self) -> JSONResponse:
        out = await self._ask("stats")
        return out if isinstance(out, JSONResponse) else JSONResponse(out)

    @api.get("/health")
    async def health(self) -> JSONResponse:
        out = await self._ask("health")
        return out if isinstance(out, JSONResponse) else health_response(out, self.retry_after_s)
