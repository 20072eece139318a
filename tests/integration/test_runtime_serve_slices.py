"""Serving a plan whose group names a MIG slice, on CPU: the controller binds that group to its
CPU share (k/7 of ``cpu_per_device``), the other group keeps its plain bundle, both serve."""
import json
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PLAN = {"format": "alpa_serve_like.placement", "version": 3,
        "groups": [{"op": 1, "pp": 1, "models": ["bert-tiny-0"], "device": "a100-80gb/1g.10gb"},
                   {"op": 1, "pp": 1, "models": ["bert-tiny-0"]}],
        "meta": {"policy": "hand-written: one group on a 1g slice (a CPU share here), one plain"}}


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def test_a_slice_group_is_served_on_its_cpu_share(serve_url, tmp_path):
    from ray import serve
    from ray.util import placement_group_table

    from alpa_serve_like.serve import build_app

    plan = tmp_path / "slices.json"
    plan.write_text(json.dumps(PLAN))
    serve.run(build_app({"placement": str(plan), "device": "cpu", "cpu_per_device": "0.7"}),
              name="slices", route_prefix="/slices")
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if _get(f"{serve_url}/slices/health")[0] == 200:
                    break
            except urllib.error.HTTPError:
                pass
            time.sleep(0.5)
        body = json.dumps({"input": {"length": 8}, "slo_ms": 5000}).encode()
        for _ in range(4):
            req = urllib.request.Request(f"{serve_url}/slices/v1/models/bert-tiny-0/infer", data=body, method="POST")
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert resp.status == 200
        bundles = sorted(b["CPU"] for pg in placement_group_table().values() if pg["state"] == "CREATED"
                         and ".slices." in (pg.get("name") or "") for b in pg["bundles"].values())
        assert bundles == [pytest.approx(0.1), pytest.approx(0.7)], bundles
    finally:
        serve.delete("slices")
