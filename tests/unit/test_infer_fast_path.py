"""Both front ends' apps (the fused controller's, the separate ingress's) answer
``POST /v1/models/{name}/infer`` alike through the fast path (``controllers.infer_fast_path``) and
through FastAPI's route (no Ray: stand-in replicas with the real handlers)."""
import asyncio
import json
import types

import pytest
from ray import serve

from alpa_serve_like.controllers import infer_fast_path, ingress, serving_controller
from alpa_serve_like.core.instances import instance_spec

OK = {"outcome": "ok", "model": "bert-tiny-0", "output": {"norm": 1.5}, "group": 0, "batch_size": 1,
      "slo_met": True, "timing_ms": {"total": 3.0}}


class StandInController:
    """What the fused app's routes need of a ``ServingController`` replica, with its real handler."""

    _infer = serving_controller.ServingController.func_or_class._infer
    api = serving_controller.api

    def __init__(self, overloaded=False, result=OK, specs="default"):
        self.specs = {"bert-tiny-0": instance_spec("bert-tiny-0")} if specs == "default" else specs
        self.options = types.SimpleNamespace(max_body_bytes=256, retry_after_s=2, body_timeout_s=5.0)
        self.core = types.SimpleNamespace(overloaded=lambda: overloaded)
        self.result = result

    async def _serve(self, parsed, arrival_s):
        if isinstance(self.result, Exception):
            raise self.result
        return dict(self.result, echo=[parsed.model, parsed.length])


class StandInIngress(StandInController):
    """The same for the separate ``Ingress`` (its handler forwards with ``_forward``)."""

    _infer = ingress.Ingress.func_or_class._infer
    api = ingress.api

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_body_bytes, self.retry_after_s, self.body_timeout_s = 256, 2, 5.0
        self.overloaded, self._forward = self.core.overloaded, self._serve


def call(replica, method, path, body=b"", root_path="", fast=True, monkeypatch=None):
    """(status, headers, body, the error raised or None, whether FastAPI's router routed it) of one
    request through the app."""
    context = types.SimpleNamespace(servable_object=replica)
    monkeypatch.setattr(serve, "get_replica_context", lambda: context)
    if not fast:
        monkeypatch.setattr(infer_fast_path, "infer_model_name", lambda scope: None)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": root_path + path, "raw_path": (root_path + path).encode(),
             "root_path": root_path, "query_string": b"", "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000), "headers": [(b"host", b"127.0.0.1:8000"),
                                                      (b"content-type", b"application/json")]}
    messages = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        messages.append(message)

    try:
        asyncio.run(replica.api(scope, receive, send))
        error = None
    except Exception as exc:  # re-raised by FastAPI's error middleware after it sent its 500
        error = type(exc).__name__
    start = messages[0]
    headers = sorted((k.decode(), v.decode()) for k, v in start["headers"])
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body, error, "endpoint" in scope


CASES = {  # stand-in arguments, method, path, body, root path
    "ok": ({}, "POST", "/v1/models/bert-tiny-0/infer", {"input": {"length": 7}}, ""),
    "below a root path": ({}, "POST", "/v1/models/bert-tiny-0/infer", {"input": [1, 2]}, "/app"),
    "unknown model": ({}, "POST", "/v1/models/gpt-huge-1/infer", {"input": [1]}, ""),
    "odd model name": ({}, "POST", "/v1/models/a b%2F/infer", {"input": [1]}, ""),
    "bad body": ({}, "POST", "/v1/models/bert-tiny-0/infer", b"{nope", ""),
    "too large": ({}, "POST", "/v1/models/bert-tiny-0/infer", {"input": [1] * 200}, ""),
    "overloaded": ({"overloaded": True}, "POST", "/v1/models/bert-tiny-0/infer", {"input": [1]}, ""),
    "rejected": ({"result": {"outcome": "rejected", "reason": "slo", "error": "late"}}, "POST",
                 "/v1/models/bert-tiny-0/infer", {"input": [1]}, ""),
    "controller gone": ({"result": RuntimeError("gone")}, "POST", "/v1/models/bert-tiny-0/infer", {"input": [1]}, ""),
}


@pytest.mark.parametrize("front", [StandInController, StandInIngress])
@pytest.mark.parametrize("case", CASES)
def test_the_fast_path_answers_as_the_fastapi_route(case, front, monkeypatch):
    kwargs, method, path, body, root = CASES[case]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    *fast, routed_fast = call(front(**kwargs), method, path, raw, root, fast=True, monkeypatch=monkeypatch)
    *slow, routed_slow = call(front(**kwargs), method, path, raw, root, fast=False, monkeypatch=monkeypatch)
    assert fast == slow and fast[3] is None
    assert not routed_fast and routed_slow  # the fast path took it; FastAPI's router the other time


@pytest.mark.parametrize("method,path,status", [("GET", "/v1/models/bert-tiny-0/infer", 405),
                                                ("POST", "/v1/models/bert-tiny-0/infer/", 307),
                                                ("POST", "/v1/models//infer", 404)])
@pytest.mark.parametrize("front", [StandInController, StandInIngress])
def test_other_requests_go_to_fastapi(method, path, status, front, monkeypatch):
    assert infer_fast_path.infer_model_name({"type": "http", "method": method, "path": path}) is None
    assert call(front(), method, path, b"{}", monkeypatch=monkeypatch)[0] == status


@pytest.mark.parametrize("front", [StandInController, StandInIngress])
def test_a_handler_error_is_the_same_500_both_ways(front, monkeypatch):
    broken = front(specs=None)  # the handler itself fails
    fast = call(broken, "POST", "/v1/models/bert-tiny-0/infer", b"{}", fast=True, monkeypatch=monkeypatch)
    slow = call(broken, "POST", "/v1/models/bert-tiny-0/infer", b"{}", fast=False, monkeypatch=monkeypatch)
    assert fast[:4] == slow[:4] and fast[0] == 500 and fast[3] == "AttributeError"


def test_outside_a_replica_fastapi_routes_everything(monkeypatch):
    def no_replica():
        raise serve.exceptions.RayServeException("not in a replica")

    monkeypatch.setattr(serve, "get_replica_context", no_replica)
    assert infer_fast_path.replica_infer_handler() is None
