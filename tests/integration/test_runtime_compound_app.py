"""A compound application live: ``/v1/apps/{name}/infer`` runs a diamond with fan-out through the
tiny placement's groups (parents' outputs feeding children), with per-task timing, and a task
that admission rejects fails the whole request with a 503 that names it."""
import time
from pathlib import Path

import pytest

from test_runtime_serve import call, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # generous: a starved machine deploys Serve apps slowly

ROOT = Path(__file__).resolve().parents[2]
PLACEMENT = ROOT / "examples" / "placement_tiny.json"
APP_FILE = ROOT / "examples" / "app_tiny_diamond.json"


@pytest.fixture(scope="module")
def app_url(serve_url):
    from ray import serve

    from alpa_serve_like.serve import build_app

    serve.run(build_app({"placement": str(PLACEMENT), "device": "cpu", "apps": str(APP_FILE)}),
              name="compound", route_prefix="/")
    wait_ready(serve_url)
    yield serve_url
    serve.delete("compound")


def test_the_graph_runs_with_fan_out_and_per_task_timing(app_url):
    status, apps = call(app_url, "/v1/apps")
    assert status == 200 and [a["name"] for a in apps["apps"]] == ["tiny-diamond"]
    started = time.time()
    status, out = call(app_url, "/v1/apps/tiny-diamond/infer", {"input": {"length": 8}})
    wall_ms = (time.time() - started) * 1e3
    assert status == 200, out
    tasks = out["timing_ms"]["tasks"]
    assert set(tasks) == {"detect", "classify", "track", "fuse"}
    assert len(tasks["classify"]["invocations"]) == 2 and len(tasks["track"]["invocations"]) == 1
    # Order of the graph, whatever the machine's load: children start after their parents end.
    assert tasks["detect"]["end"] <= tasks["classify"]["start"] and tasks["detect"]["end"] <= tasks["track"]["start"]
    assert max(tasks["classify"]["end"], tasks["track"]["end"]) <= tasks["fuse"]["start"] <= tasks["fuse"]["end"]
    assert tasks["fuse"]["end"] <= out["timing_ms"]["total"] <= wall_ms + 1.0
    assert tasks["classify"]["model"] == "gpt-tiny-0" and {i["group"] for i in tasks["classify"]["invocations"]} <= {0, 1}
    assert list(out["output"]) == ["fuse"] and set(out["output"]["fuse"][0]) == {"norm", "head"}
    # Deadlines: an even split of 5 s over the 3-task paths, counted from the request's arrival.
    assert tasks["detect"]["deadline"] == pytest.approx(5000 / 3, abs=0.01)
    assert tasks["fuse"]["deadline"] == 5000.0


def test_a_rejected_task_fails_the_request_and_names_the_task(app_url):
    # An SLO of 1 us: admission rejects the root's invocation; nothing downstream runs.
    status, out = call(app_url, "/v1/apps/tiny-diamond/infer", {"input": {"length": 8}, "slo_ms": 0.001})
    assert status == 503, out
    assert out["failed_task"] == "detect" and out["reason"] == "slo"
    assert "task 'detect' (model 'bert-tiny-0', invocation 1 of 1) was rejected" in out["error"]
    assert set(out["timing_ms"]["tasks"]) == {"detect"}


def test_unknown_application_and_bad_body(app_url):
    status, out = call(app_url, "/v1/apps/nope/infer", {"input": {"length": 8}})
    assert status == 404 and out["known_apps"] == ["tiny-diamond"]
    status, out = call(app_url, "/v1/apps/tiny-diamond/infer", {"input": {"length": 0}})
    assert status == 400
