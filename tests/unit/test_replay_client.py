"""The replay client tells a proxy's 404, a server's JSON error and no answer apart, and waits for
readiness; checked against a tiny local aiohttp server (no Ray)."""
import asyncio
import json
import threading

import numpy as np
import pytest

aiohttp_web = pytest.importorskip("aiohttp.web")

from alpa_serve_like.client.replay import ServerNotReady, readiness_problem, replay, wait_until_ready  # noqa: E402
from alpa_serve_like.core.workload import Workload  # noqa: E402

MODELS = ("bert-tiny-0",)


def test_readiness_problem_names_each_case():
    url = "http://127.0.0.1:1"
    assert "is the server started" in readiness_problem(None, "ConnectionRefusedError", url, MODELS)
    assert "404" in readiness_problem(404, "Not Found", url, MODELS) and "--url" in readiness_problem(404, "", url, MODELS)
    assert "not answer with this server's JSON" in readiness_problem(200, "<html>", url, MODELS)
    assert "does not serve bert-tiny-0" in readiness_problem(200, json.dumps({"models": [{"name": "x"}]}), url, MODELS)
    assert readiness_problem(200, json.dumps({"models": [{"name": "bert-tiny-0"}]}), url, MODELS) is None


@pytest.fixture
def server():
    """A server whose /v1/models lists nothing at first, then bert-tiny-0; infer answers 404 text."""
    state = {"calls": 0}

    async def models(request):
        state["calls"] += 1
        return aiohttp_web.json_response({"models": [{"name": "bert-tiny-0"}] if state["calls"] > 1 else []})

    async def not_found(request):
        return aiohttp_web.Response(status=404, text="Path '/v1/models/bert-tiny-0/infer' not found.")

    app = aiohttp_web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/models/{name}/infer", not_found)
    loop = asyncio.new_event_loop()
    runner = aiohttp_web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = aiohttp_web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", state
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_wait_then_replay_reports_404_as_such(server):
    url, state = server
    # a server that answers but does not list the model fails at once (waiting would not help)
    with pytest.raises(ServerNotReady, match="does not serve bert-tiny-0"):
        wait_until_ready(url, MODELS, timeout_s=5.0, poll_s=0.01)
    wait_until_ready(url, MODELS, timeout_s=5.0, poll_s=0.01)
    w = Workload(np.array([0.0, 0.01]), np.zeros(2, np.int32), np.full(2, 1.0), MODELS)
    result = replay(url, w, timeout_s=5.0)
    assert list(result.status) == [404, 404]
    assert result.reason[0].startswith('not-json: "Path')
    assert list(result.counts().values()) == [2] and list(result.counts())[0].startswith("404:not-json")


def test_no_server_is_not_ready():
    with pytest.raises(ServerNotReady, match="is the server started"):
        wait_until_ready("http://127.0.0.1:9", MODELS, timeout_s=0.2, poll_s=0.05)
