"""HTTP edges shared by both ingress forms: stalled bodies, lost clients, colour-free errors, /health."""
import asyncio
import json

import pytest
from starlette.requests import Request

from alpa_serve_like.controllers.http_common import health_response, infer_response
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.controller_state import first_line

SPECS = {"bert-tiny-0": instance_spec("bert-tiny-0")}


def request_with(messages):
    """A POST whose body arrives as ``messages`` (ASGI receive events); after them it stalls forever."""
    queue = list(messages)

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


async def never_called(parsed, arrival_s):
    raise AssertionError("a request without a complete body must not reach the controller")


def respond(request, serve_request=never_called, body_timeout_s=0.05):
    async def main():
        return await asyncio.wait_for(infer_response("bert-tiny-0", request, SPECS, 1 << 20, serve_request,
                                                     body_timeout_s=body_timeout_s), 60)

    resp = asyncio.run(main())
    return resp.status_code, json.loads(resp.body), resp.headers


def test_a_stalled_body_is_answered_408_and_never_reaches_the_controller():
    status, body, _ = respond(request_with([{"type": "http.request", "body": b'{"input": [1', "more_body": True}]))
    assert status == 408 and "did not arrive within" in body["error"] and "12 bytes" in body["error"]


def test_a_client_gone_mid_body_is_408():
    status, body, _ = respond(request_with([{"type": "http.request", "body": b'{"in', "more_body": True},
                                            {"type": "http.disconnect"}]))
    assert status == 408 and "disconnected" in body["error"]


def test_controller_errors_reach_the_client_without_colour_codes():
    async def coloured_failure(parsed, arrival_s):
        raise RuntimeError("\x1b[31mActorDiedError\x1b[0m: the actor \x1b[1mdied\x1b[0m\ntraceback...")

    request = request_with([{"type": "http.request", "body": b'{"input": [1, 2]}', "more_body": False}])
    status, body, headers = respond(request, coloured_failure, body_timeout_s=30)
    assert status == 503 and body["reason"] == "controller_unavailable" and headers["retry-after"] == "1"
    assert "\x1b" not in body["error"] and "ActorDiedError: the actor died" in body["error"]
    assert "traceback" not in body["error"]


def test_first_line_strips_escape_sequences():
    assert first_line(ValueError("\x1b[33m(raylet)\x1b[0m boom")) == "ValueError: (raylet) boom"


@pytest.mark.parametrize("health, status", [({"status": "warming_up", "reason": "warming_up"}, 503),
                                            ({"status": "ok"}, 200), ({"status": "degraded"}, 200)])
def test_health_is_503_with_retry_after_only_while_warming_up(health, status):
    resp = health_response(health, retry_after_s=2)
    assert resp.status_code == status
    assert (resp.headers.get("retry-after") == "2") == (status == 503)
