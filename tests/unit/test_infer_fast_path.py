"""The fused controller's app answers ``POST /v1/models/{name}/infer`` alike through its fast path
(``controllers.infer_fast_path``) and through FastAPI's route (no Ray: a stand-in replica)."""
import asyncio
import json
import types

import pytest
from ray import serve

from alpa_serve_like.controllers import infer_fast_path, serving_controller
from alpa_serve_like.core.instances import instance_spec

OK = {"outcome": "ok", "model": "bert-tiny-0", "output": {"norm": 1.5}, "group": 0, "batch_size": 1,
      "slo_met": True, "timing_ms": {"total": 3.0}}


class StandInReplica:
    """What the app's routes need of a ``ServingController`` replica, with its real infer handler."""

    _infer = serving_controller.ServingController.func_or_class._infer

    def __init__(self, overloaded=False, result=OK, specs="default"):
        self.specs = {"bert-tiny-0": instance_spec("bert-tiny-0")} if specs == "default" else specs
        self.options = types.SimpleNamespace(max_body_bytes=256, retry_after_s=2, body_timeout_s=5.0)
        self.core = types.SimpleNamespace(overloaded=lambda: overloaded)
        self.result = result

    async def _serve(self, parsed, arrival_s):
        if isinstance(self.result, Exception):
            raise self.result
        return dict(self.result, echo=[parsed.model, parsed.length])


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
        asyncio.run(serving_controller.api(scope, receive, send))
        error = None
    except Exception as exc:  # re-raised by FastAPI's error middleware after it sent its 500
        error = type(exc).__name__
    start = messages[0]
    headers = sorted((k.decode(), v.decode()) for k, v in start["headers"])
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body, error, "endpoint" in scope


CASES = {
    "ok": (StandInReplica(), "POST", "/v1/models/bert-tiny-0/infer", {"input": {"length": 7}}, ""),
    "below a root path": (StandInReplica(), "POST", "/v1/models/bert-tiny-0/infer", {"input": [1, 2]}, "/app"),
    "unknown model": (StandInReplica(), "POST", "/v1/models/gpt-huge-1/infer", {"input": [1]}, ""),
    "odd model name": (StandInReplica(), "POST", "/v1/models/a b%2F/infer", {"input": [1]}, ""),
    "bad body": (StandInReplica(), "POST", "/v1/models/bert-tiny-0/infer", b"{nope", ""),
    "too large": (StandInReplica(), "POST", "/v1/models/bert-tiny-0/infer", {"input": [1] * 200}, ""),
    "overloaded": (StandInReplica(overloaded=True), "POST", "/v1/models/bert-tiny-0/infer", {"input": [1]}, ""),
    "rejected": (StandInReplica(result={"outcome": "rejected", "reason": "slo", "error": "late"}), "POST",
                 "/v1/models/bert-tiny-0/infer", {"input": [1]}, ""),
    "controller gone": (StandInReplica(result=RuntimeError("gone")), "POST", "/v1/models/bert-tiny-0/infer",
                        {"input": [1]}, ""),
}


@pytest.mark.parametrize("case", CASES)
def test_the_fast_path_answers_as_the_fastapi_route(case, monkeypatch):
    replica, method, path, body, root = CASES[case]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    *fast, routed_fast = call(replica, method, path, raw, root, fast=True, monkeypatch=monkeypatch)
    *slow, routed_slow = call(replica, method, path, raw, root, fast=False, monkeypatch=monkeypatch)
    assert fast == slow and fast[3] is None
    assert not routed_fast and routed_slow  # the fast path took it; FastAPI's router the other time


@pytest.mark.parametrize("method,path,status", [("GET", "/v1/models/bert-tiny-0/infer", 405),
                                                ("POST", "/v1/models/bert-tiny-0/infer/", 307),
                                                ("POST", "/v1/models//infer", 404)])
def test_other_requests_go_to_fastapi(method, path, status, monkeypatch):
    assert infer_fast_path.infer_model_name({"type": "http", "method": method, "path": path}) is None
    assert call(StandInReplica(), method, path, b"{}", monkeypatch=monkeypatch)[0] == status


def test_a_handler_error_is_the_same_500_both_ways(monkeypatch):
    broken = StandInReplica(specs=None)  # the handler itself fails
    fast = call(broken, "POST", "/v1/models/bert-tiny-0/infer", b"{}", fast=True, monkeypatch=monkeypatch)
    slow = call(broken, "POST", "/v1/models/bert-tiny-0/infer", b"{}", fast=False, monkeypatch=monkeypatch)
    assert fast[:4] == slow[:4] and fast[0] == 500 and fast[3] == "AttributeError"


def test_outside_a_replica_fastapi_routes_everything(monkeypatch):
    def no_replica():
        raise serve.exceptions.RayServeException("not in a replica")

    monkeypatch.setattr(serve, "get_replica_context", no_replica)
    assert serving_controller.replica_infer_handler() is None
