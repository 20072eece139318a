"""The HTTP ingress deployment (FastAPI) that forwards to the Controller over a handle (the default).

``serve run alpa_serve_like.serve:app`` (``ingress=separate``, the default) puts this stateless
deployment, which can run several replicas, in front of the controller: HTTP parsing stays off the
controller, and the ingress outlives it. Losing the controller replica is seen within milliseconds
(``runtime.controller_watch``: a long-poll call fails with Ray's actor-death error) and answered 503
``controller_unavailable`` until Serve has restarted it, instead of Serve's proxy holding requests
for the new replica. The cost is one more hop per request than ``ingress=fused`` (the controller
serving HTTP itself: ``serving_controller``); benchmarks/bench_runtime_overhead.py measures both.
Routes and status codes are the same in both: ``controllers.http_common``.
"""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
import ray
from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.controller_state import first_line
from alpa_serve_like.runtime.controller_watch import ControllerWatch
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.controllers.http_common import health_response, infer_response
from alpa_serve_like.controllers.infer_fast_path import INFER_PATH, InferFastPath, replica_infer_handler
from alpa_serve_like.controllers.kserve_routes import kserve_v2_routes
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, document_request_bodies, request_body
from alpa_serve_like.runtime import kserve_v2
from alpa_serve_like.runtime.http_schemas import V1InferRequest, V1InferResponse

api = FastAPI(title="alpa_serve_like", description="AlpaServe-style multi-model serving")
document_request_bodies(api)
api.add_middleware(InferFastPath, find_handler=replica_infer_handler)


def is_replica_death(exc: BaseException) -> bool:
    """Ray's error for a call whose actor died or became unreachable (not a full queue)."""
    return isinstance(exc, ray.exceptions.RayActorError)


@serve.deployment(max_ongoing_requests=10_000, ray_actor_options={"num_cpus": 0.1})
@serve.ingress(api)
class Ingress(kserve_v2_routes(api)):
    def __init__(self, controller: DeploymentHandle, models: list, options: dict):
        self.controller = controller
        self.options = RuntimeOptions(**options)
        timeout_s = self.options.controller_timeout_s
        self.watch = ControllerWatch(lambda: controller.ping.remote(),
                                     vigil=lambda: controller.vigil.remote(self.options.controller_vigil_s),
                                     is_death=is_replica_death,
                                     is_busy=lambda exc: isinstance(exc, BackPressureError),
                                     timeout_s=timeout_s,
                                     period_s=min(0.25, timeout_s))
        self.specs = {m: instance_spec(m) for m in models}
        self.max_body_bytes = self.options.max_body_bytes
        self.retry_after_s = self.options.retry_after_s
        self.body_timeout_s = self.options.body_timeout_s
        self.forwarding = 0
        """Requests this replica has forwarded and not had answered; above ``max_pending_requests``
        new ones are shed here, before they cost a hop to the controller."""

    def overloaded(self) -> bool:
        return self.forwarding >= self.options.max_pending_requests

    async def _forward(self, parsed, arrival_s: float) -> dict:
        self.forwarding += 1
        try:
            return await self.watch.guard(lambda: self.controller.infer.remote(
                parsed.model, parsed.length, parsed.tokens, parsed.slo_s, arrival_s))
        except BackPressureError:  # Serve's queue in front of the controller is full
            return {"outcome": "rejected", "reason": "overloaded",
                    "error": "the server is overloaded (the controller's queue is full); retry later"}
        finally:
            self.forwarding -= 1

    # ---- KServe v2 hooks (controllers.kserve_routes) ----
    async def _v2_serve(self, parsed, arrival_s: float) -> dict:
        return await self._forward(parsed, arrival_s)

    def _v2_limits(self):
        return self.max_body_bytes, self.retry_after_s, self.body_timeout_s, self.overloaded

    async def _v2_models_ready(self) -> dict:
        return kserve_v2.models_ready(await self.watch.guard(lambda: self.controller.group_status.remote()))

    @api.post(INFER_PATH, response_model=V1InferResponse, openapi_extra=request_body(V1InferRequest),
              responses=ERROR_RESPONSES)
    async def infer(self, name: str, request: Request) -> JSONResponse:
        return await self._infer(name, request)

    async def _infer(self, name: str, request: Request) -> JSONResponse:
        """The infer route's handler; ``InferFastPath`` calls it directly."""
        return await infer_response(name, request, self.specs, self.max_body_bytes, self._forward,
                                    retry_after_s=self.retry_after_s, body_timeout_s=self.body_timeout_s,
                                    overloaded=self.overloaded)

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
