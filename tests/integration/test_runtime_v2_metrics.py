"""KServe v2 routes, ``/openapi.json`` and the Prometheus metrics of a served one-group placement,
behind both HTTP front ends (the fused controller and the separate ingress), one after the other."""
import json
import re
import time
import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # generous: a starved machine deploys Serve apps slowly

@pytest.fixture(scope="module", params=["fused", "separate"])
def app(request, serve_url, tmp_path_factory):
    """(base URL, app name) of the app; one at a time (the groups' placement-group names are per
    cluster, so two apps hosting a group 0 cannot run side by side)."""
    from ray import serve

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.serve import build_app

    path = tmp_path_factory.mktemp("v2") / "one_group.json"
    Placement((GroupPlacement(ParallelConfig(1, 1, 2), ("gpt-tiny-0",)),)).save(path)
    name = f"v2{request.param}"
    serve.run(build_app({"placement": str(path), "device": "cpu", "ingress": request.param}), name=name,
              route_prefix=f"/{name}")
    yield serve_url + f"/{name}", name
    serve.delete(name)


def fetch(url, body=None):
    """(status, lower-cased headers, parsed JSON or raw text) of a GET, or of a POST when ``body`` is given."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, headers, raw = resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
    try:
        return status, headers, json.loads(raw) if raw else None
    except ValueError:
        return status, headers, raw.decode()


def tensor(tokens):
    return {"name": "input_ids", "shape": [1, len(tokens)], "datatype": "INT64", "data": tokens}


def test_v2_health_metadata_and_infer(app):
    v2_url, _ = app
    assert fetch(f"{v2_url}/v2/health/live")[0] == 200
    assert fetch(f"{v2_url}/v2/health/ready")[0] == 200
    assert fetch(f"{v2_url}/v2/models/gpt-tiny-0/ready")[0] == 200
    status, _, meta = fetch(f"{v2_url}/v2/models/gpt-tiny-0")
    assert status == 200 and meta["inputs"][0]["name"] == "input_ids"
    assert fetch(f"{v2_url}/v2/models/bert-tiny-0")[0] == 404

    status, _, out = fetch(f"{v2_url}/v2/models/gpt-tiny-0/infer",
                           {"id": "a", "inputs": [tensor([5, 6, 7])], "parameters": {"slo_ms": 5000}})
    assert status == 200, out
    assert out["id"] == "a" and out["model_name"] == "gpt-tiny-0" and out["parameters"]["slo_met"] is True
    norm, head = out["outputs"]
    assert norm["datatype"] == "FP32" and norm["shape"] == [1] and head["shape"] == [1, len(head["data"])]
    # The same tokens through /v1 give the same output: one model behind both protocols.
    status, _, v1 = fetch(f"{v2_url}/v1/models/gpt-tiny-0/infer", {"input": [5, 6, 7]})
    assert status == 200 and v1["output"]["norm"] == pytest.approx(norm["data"][0], rel=1e-5)

    status, _, bad = fetch(f"{v2_url}/v2/models/gpt-tiny-0/infer", {"inputs": [{**tensor([1, 2]), "shape": [2, 1]}]})
    assert status == 400 and "one sequence per request" in bad["error"]
    assert fetch(f"{v2_url}/v2/models/bert-tiny-0/infer", {"inputs": [tensor([1])]})[0] == 404
    # An SLO of 10 us cannot be met: admission rejects it at arrival, 503 with Retry-After.
    status, headers, rejected = fetch(f"{v2_url}/v2/models/gpt-tiny-0/infer",
                                      {"inputs": [tensor([1, 2])], "parameters": {"slo_ms": 0.01}})
    assert status == 503 and rejected["reason"] == "slo" and headers.get("retry-after") == "1"


def test_openapi_documents_both_infer_bodies(app):
    v2_url, _ = app
    status, _, spec = fetch(f"{v2_url}/openapi.json")
    assert status == 200
    for path in ("/v1/models/{name}/infer", "/v2/models/{name}/infer"):
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"]


def app_series(text: str, app_name: str) -> list[tuple[str, dict, float]]:
    """(name, labels, value) of this app's ``alpa_serve_like`` samples in a Prometheus text page
    (apps deleted earlier in the session may still be listed, under their own ``application``)."""
    out = []
    for name, labels, value in re.findall(r"^(ray_alpa_serve_like_\w+)\{([^}]*)\} (\S+)", text, re.M):
        tags = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if tags.get("application") == app_name:
            out.append((name, tags, float(value)))
    return out


def test_metrics_on_rays_port_use_seconds_and_show_every_group(app):
    import ray

    v2_url, app_name = app
    fetch(f"{v2_url}/v1/models/gpt-tiny-0/infer", {"input": [1, 2, 3], "slo_ms": 5000})
    port = ray.nodes()[0]["MetricsExportPort"]
    wanted = {"ray_alpa_serve_like_request_latency_seconds_bucket", "ray_alpa_serve_like_stage_compute_seconds_bucket",
              "ray_alpa_serve_like_slo_attainment", "ray_alpa_serve_like_group_up",
              "ray_alpa_serve_like_requests_total", "ray_alpa_serve_like_slo_met_total"}
    # Ray pushes metrics to its exporter every few seconds; wait for ours to appear.
    deadline, series = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        series = app_series(fetch(f"http://127.0.0.1:{port}/metrics")[2], app_name)
        if wanted <= {name for name, _, _ in series}:
            break
        time.sleep(1)
    names = {name for name, _, _ in series}
    assert wanted <= names, names
    assert not [n for n in names if "_ms" in n]
    assert [(tags["group"], value) for name, tags, value in series if name == "ray_alpa_serve_like_group_up"] == [("0", 1.0)]
    # (Its window may include the other tests' requests, the rejected one among them; the window
    # itself is unit-tested in test_runtime_metrics.py.)
    attainment = [value for name, tags, value in series if name == "ray_alpa_serve_like_slo_attainment"]
    assert len(attainment) == 1 and 0.0 < attainment[0] <= 1.0

