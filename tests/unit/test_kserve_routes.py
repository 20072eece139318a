"""The v2 readiness routes' answers, called on a fake front end (no Ray, no HTTP server)."""
import asyncio
import json

from fastapi import FastAPI

from alpa_serve_like.controllers.kserve_routes import kserve_v2_routes
from alpa_serve_like.core.instances import instance_spec


class FakeFrontEnd(kserve_v2_routes(FastAPI())):
    def __init__(self, ready):
        self.specs = {m: instance_spec(m) for m in ("bert-tiny-0", "gpt-tiny-0")}
        self.ready = ready

    def _v2_limits(self):
        return 1 << 20, 3, 10.0, None

    async def _v2_models_ready(self):
        if isinstance(self.ready, Exception):
            raise self.ready
        return self.ready


def answer(coro):
    response = asyncio.run(coro)
    body = json.loads(response.body) if response.body else None
    return response.status_code, response.headers.get("retry-after"), body


def test_ready_when_every_model_has_a_group_up():
    front = FakeFrontEnd({"bert-tiny-0": True, "gpt-tiny-0": True})
    assert answer(front.v2_ready())[:2] == (200, None)
    assert answer(front.v2_model_ready("gpt-tiny-0"))[:2] == (200, None)


def test_not_ready_and_controller_loss_are_503_with_retry_after():
    front = FakeFrontEnd({"bert-tiny-0": True, "gpt-tiny-0": False})
    status, retry, body = answer(front.v2_ready())
    assert (status, retry, body["reason"]) == (503, "3", "not_ready") and "gpt-tiny-0" in body["error"]
    assert answer(front.v2_model_ready("bert-tiny-0"))[0] == 200
    assert answer(front.v2_model_ready("gpt-tiny-0"))[:2] == (503, "3")
    assert answer(front.v2_model_ready("bert-huge-7"))[0] == 404
    gone = FakeFrontEnd(RuntimeError("actor died"))
    status, retry, body = answer(gone.v2_ready())
    assert (status, retry, body["reason"]) == (503, "3", "controller_unavailable")
