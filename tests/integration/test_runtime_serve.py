"""End to end through Ray Serve: a 2-group placement of 2-stage pipelines of tiny models on CPU.

One app for the module (starting stage actors is the slow part); every test leaves it serving.
"""
import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # generous: a starved machine deploys Serve apps slowly

ROOT = Path(__file__).resolve().parents[2]
PLACEMENT = ROOT / "examples" / "placement_tiny.json"
APP = "tiny"


@pytest.fixture(scope="module")
def app_url(serve_url):
    from ray import serve

    from alpa_serve_like.serve import build_app

    serve.run(build_app({"placement": str(PLACEMENT), "device": "cpu", "max_batch_size": "4",
                         "health_check_period_s": "0.5"}), name=APP, route_prefix="/")
    health = wait_ready(serve_url)
    assert health["groups_warm"] == health["groups"] == 2, health
    yield serve_url
    serve.delete(APP)


def call(url, path, body=None, raw: bytes | None = None, timeout=60):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_ready(url, timeout_s=600):
    """Poll ``/health`` until 200 (warm-up over); a 503 before that must say ``warming_up``."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status, health = call(url, "/health")
        if status == 200:
            return health
        assert status == 503 and health["reason"] == "warming_up", (status, health)
        time.sleep(0.2)
    pytest.fail(f"{url}/health not ready after {timeout_s} s (last: {health})")


async def burst(url, requests, timeout=60, headers=False):
    """Send ``[(model, body), ...]`` at once; returns [(status, json)] (with ``headers``:
    [(status, json, response headers)]) in order."""
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async def one(model, body):
            async with session.post(f"{url}/v1/models/{model}/infer", json=body) as resp:
                out = resp.status, await resp.json(content_type=None)
                return (*out, dict(resp.headers)) if headers else out

        return await asyncio.gather(*(one(m, b) for m, b in requests))


def test_requests_flow_through_both_pipelines_with_a_stage_breakdown(app_url):
    tokens = list(range(1, 33))
    results = asyncio.run(burst(app_url, [("bert-tiny-0", {"input": tokens})] * 12))
    assert all(status == 200 for status, _ in results), results
    groups = {out["group"] for _, out in results}
    assert groups == {0, 1}, "bert-tiny-0 is on both groups; a burst must use both"
    # Both groups hold the same weights for bert-tiny-0, so the same tokens give the same output.
    norms = {round(out["output"]["norm"], 3) for _, out in results}
    assert len(norms) == 1
    timing = results[0][1]["timing_ms"]
    assert len(timing["stages"]) == 2 and timing["total"] >= sum(timing["stages"]) > 0

    status, out = call(app_url, "/v1/models/gpt-tiny-0/infer", {"input": {"length": 64}, "slo_ms": 5000})
    assert status == 200 and out["slo_met"] and len(out["output"]["head"]) == 4

    status, models = call(app_url, "/v1/models")
    assert status == 200
    assert {m["name"]: m["groups"] for m in models["models"]} == {
        "bert-tiny-0": [0, 1], "bert-tiny-1": [0], "gpt-tiny-0": [0, 1]}
    status, health = call(app_url, "/health")
    assert status == 200 and health["status"] == "ok"
    status, stats = call(app_url, "/v1/stats")
    assert stats["models"]["bert-tiny-0"]["ok"] >= 12 and stats["devices"] == "cpu"
    assert set(stats["stage_compute_ms"]) == {"0", "1"}
    # Batches of up to 4 ran through 2-stage pipelines, and the controller never held an activation.
    assert stats["controller_imported_torch"] is False
    assert stats["overheads"]["hop"]["samples"] > 0


def test_bad_requests_get_4xx_and_do_not_disturb_good_ones(app_url):
    good = [("bert-tiny-1", {"input": {"length": 16}})] * 6
    bad_json = call(app_url, "/v1/models/bert-tiny-0/infer", raw=b'{"input": [1, 2')
    results = asyncio.run(burst(app_url, good))
    unknown = call(app_url, "/v1/models/bert-huge-7/infer", {"input": [1]})
    oversized = call(app_url, "/v1/models/bert-tiny-0/infer", raw=b'{"input": [' + b"1," * 700_000 + b"1]}")
    bad_token = call(app_url, "/v1/models/bert-tiny-0/infer", {"input": [1, 99999]})
    bad_slo = call(app_url, "/v1/models/bert-tiny-0/infer", {"input": [1], "slo_ms": -3})
    assert bad_json[0] == 400 and "not valid JSON" in bad_json[1]["error"]
    assert unknown[0] == 404 and unknown[1]["known_models"] == ["bert-tiny-0", "bert-tiny-1", "gpt-tiny-0"]
    assert oversized[0] == 413 and "over the limit" in oversized[1]["error"]
    assert bad_token[0] == 400 and "token ids" in bad_token[1]["error"]
    assert bad_slo[0] == 400
    assert [s for s, _ in results] == [200] * 6


def test_overload_is_rejected_at_arrival_with_503_and_a_reason(app_url):
    body = {"input": {"length": 128}, "slo_ms": 60}
    # One request alone is served. (Its SLO is loose: admission adds the dispatch and response
    # overheads it learned, which on a loaded 2-core machine can alone approach 60 ms.)
    alone = call(app_url, "/v1/models/bert-tiny-1/infer", {**body, "slo_ms": 1000})
    assert alone[0] == 200, alone
    # bert-tiny-1 lives on group 0 only: 80 simultaneous requests cannot all finish within 60 ms.
    results = asyncio.run(burst(app_url, [("bert-tiny-1", body)] * 80, headers=True))
    statuses = [s for s, _, _ in results]
    assert set(statuses) <= {200, 503}
    rejected = [(out, hdrs) for s, out, hdrs in results if s == 503]
    assert rejected, "an overload must be rejected at arrival"
    # Mostly at arrival ("slo"); a request admitted and then late at dispatch is dropped ("doomed").
    assert {out["reason"] for out, _ in rejected} <= {"slo", "doomed"}
    assert any(out["reason"] == "slo" and out["predicted_latency_ms"] > 60 for out, _ in rejected)
    assert all("misses the" in out["error"] for out, _ in rejected)
    assert all(hdrs.get("Retry-After") == "1" for _, hdrs in rejected)
    stats = call(app_url, "/v1/stats")[1]["models"]["bert-tiny-1"]
    assert stats["rejected"] >= len(rejected)


def test_killed_stage_actor_fails_fast_and_its_group_is_recreated(app_url):
    from ray import serve

    controller = serve.get_deployment_handle("Controller", app_name=APP)
    info = controller.actor_info.remote().result(timeout_s=30)
    victim = info[0][1]["pid"]  # group 0, stage 1

    async def traffic():
        import aiohttp

        outcomes = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            async def one(i):
                model = "bert-tiny-1" if i % 2 else "bert-tiny-0"
                async with session.post(f"{app_url}/v1/models/{model}/infer",
                                        json={"input": {"length": 32}}) as resp:
                    outcomes.append((time.time(), resp.status, await resp.json(content_type=None)))

            tasks = []
            for i in range(60):
                if i == 20:
                    os.kill(victim, signal.SIGKILL)
                    killed_s.append(time.time())
                tasks.append(asyncio.ensure_future(one(i)))
                await asyncio.sleep(0.02)
            await asyncio.gather(*tasks)
        return outcomes

    killed_s = []
    outcomes = asyncio.run(traffic())
    assert len(outcomes) == 60, "every request must get an answer"
    failed = [out for _, status, out in outcomes if status != 200]
    assert all(out.get("reason") in ("group_failed", "group_down") for out in failed), \
        [(out.get("reason"), out.get("error", "")[:120]) for out in failed]
    assert any(status != 200 for _, status, _ in outcomes), "the kill should have hit some requests"

    deadline = time.time() + 90
    while time.time() < deadline:
        health = call(app_url, "/health")[1]
        if health["status"] == "ok":
            break
        time.sleep(0.5)
    assert health["status"] == "ok", health
    late = [t - killed_s[0] for t, status, _ in outcomes if status != 200]
    print(f"stage actor killed: {len(late)} requests answered 503, the last {max(late):.2f} s after the "
          f"kill; group back (warm, /health ok) {time.time() - killed_s[0]:.2f} s after it")
    status, out = call(app_url, "/v1/models/bert-tiny-1/infer", {"input": {"length": 8}})
    assert status == 200 and out["group"] == 0
    groups = call(app_url, "/v1/stats")[1]["groups"]
    assert groups[0]["restarts"] == 1 and groups[0]["generation"] == 1 and groups[1]["restarts"] == 0
    new_info = controller.actor_info.remote().result(timeout_s=30)
    assert victim not in {a["pid"] for a in new_info[0]}


def test_replay_writes_one_row_per_request_and_matches_the_simulator(app_url, tmp_path):
    import numpy as np

    from alpa_serve_like.core.plan import Placement
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
    from alpa_serve_like.profiling.instance_profiles import instance_profiles
    from alpa_serve_like.client.replay import compare_with_simulator, replay
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions
    from alpa_serve_like.trace.synthetic import make_workload

    # A light load (10 req/s of tiny models): at 25 req/s a 2-core machine that is busy with
    # anything else falls behind and live latencies reach seconds, which is not what this tests.
    # Warm up first (connections, the learned overheads after the group recreated by the test
    # before), and leave the first second out of both attainments as well. A neighbour's CPU burst
    # can stall this machine for seconds, and admission then (rightly) turns requests away for the
    # 5 s its margin remembers the stall: up to three 5 s replays, the best one must agree. A server
    # that disagrees with the simulator disagrees in all three; a busy machine cannot decide this.
    replay(app_url, make_workload(["bert-tiny-0", "gpt-tiny-0"], 10.0, 1.0, np.random.default_rng(2),
                                  slo_s=0.5, process="poisson"), length=32)
    placement = Placement.load(PLACEMENT)
    profiles = instance_profiles(placement.models, ProfilingDatabase.load(default_database_path()), "cpu")
    tries = []
    for attempt in range(3):
        workload = make_workload(["bert-tiny-0", "gpt-tiny-0"], 10.0, 5.0, np.random.default_rng(3 + attempt),
                                 slo_s=0.5, process="poisson")
        result = replay(app_url, workload, length=32)
        path = result.write_tsv(tmp_path / f"replay{attempt}.tsv")
        rows = path.read_text().splitlines()
        assert len(rows) == len(workload) + 1 and rows[0].startswith("request\tmodel")
        assert result.max_send_lag_s() < 0.5
        cmp = compare_with_simulator(result, placement, profiles,
                                     SimOptions(SchedulingOptions(max_batch_size=4), warmup_s=1.0))
        assert cmp["simulated"] == 1.0  # a light load with a loose SLO: the simulator serves everything
        tries.append((abs(cmp["difference"]), result.counts(), result.summary()))
        if abs(cmp["difference"]) <= 0.05:
            break
    assert min(t[0] for t in tries) <= 0.05, tries


def test_second_app_with_a_separate_ingress_names_its_groups_and_answers_a_lost_controller(app_url, serve_url,
                                                                                           tmp_path):
    """A second app beside ``APP`` in one cluster, with ``ingress=separate``: its placement groups
    get their own names, and killing its controller replica is answered at once."""
    from ray import serve
    from ray.util import placement_group_table

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.serve import build_app

    path = tmp_path / "one_group.json"
    Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("gpt-tiny-0",)),)).save(path)
    serve.run(build_app({"placement": str(path), "device": "cpu", "ingress": "separate"}), name="separate",
              route_prefix="/separate")
    try:
        base = serve_url + "/separate"
        wait_ready(base)
        live = [pg["name"] for pg in placement_group_table().values() if pg["state"] == "CREATED"]
        ours = [n for n in live if n.startswith("alpa-serve-like.")]
        assert len(ours) == len(set(ours)) == 3, live  # 2 groups of APP + 1 of "separate"
        assert {n.split(".")[1] for n in ours} == {APP, "separate"}, ours
        status, out = call(base, "/v1/models/gpt-tiny-0/infer", {"input": [5, 6, 7]})
        assert status == 200 and out["group"] == 0 and len(out["timing_ms"]["stages"]) == 1
        assert call(base, "/v1/models/bert-tiny-0/infer", {"input": [1]})[0] == 404
        assert call(base, "/v1/models/gpt-tiny-0/infer", raw=b"[")[0] == 400
        stats = call(base, "/v1/stats")[1]
        assert stats["models"]["gpt-tiny-0"]["ok"] == 1
        lost_controller_is_answered_not_held(base, stats["stats_since_s"])
        # A redeploy with other options: a new controller replica, its own placement-group names.
        before = {pg["name"] for pg in placement_group_table().values() if pg["state"] == "CREATED"}
        serve.run(build_app({"placement": str(path), "device": "cpu", "ingress": "separate", "retry_after_s": "2"}),
                  name="separate", route_prefix="/separate")
        wait_ready(base)
        assert call(base, "/v1/models/gpt-tiny-0/infer", {"input": [5, 6, 7]})[0] == 200
        after = {pg["name"] for pg in placement_group_table().values() if pg["state"] == "CREATED"}
        new = {n for n in after - before if n.startswith("alpa-serve-like.separate.")}
        assert len(new) == 1, (before, after)
    finally:
        serve.delete("separate")


def lost_controller_is_answered_not_held(base, stats_since_s):
    """Kill the controller replica behind the separate ingress: requests sent meanwhile
    are answered 503 ``controller_unavailable`` promptly (the target is 1 s; the bound here is loose
    so that machine load cannot decide it: ``-s`` prints the measured times), not held until the
    restarted controller serves again, and the restarted controller's stats say they start later."""
    from ray import serve

    pid = serve.get_deployment_handle("Controller", app_name="separate").process_id.remote().result(timeout_s=30)
    os.kill(pid, signal.SIGKILL)
    killed_s = time.time()
    answers = []  # (answered after the kill s, status, reason)
    health = []
    deadline = killed_s + 180
    while time.time() < deadline:
        status, out = call(base, "/v1/models/gpt-tiny-0/infer", {"input": [5, 6, 7]}, timeout=180)
        answers.append((time.time() - killed_s, status, out.get("reason")))
        if status == 200:
            break
        health.append(call(base, "/health", timeout=180))
        time.sleep(0.1)
    print("answers after the controller kill (s, status, reason):", answers[:3], "...", answers[-1])
    assert answers[-1][1] == 200, answers[-5:]
    unavailable = [a for a in answers if a[1] == 503]
    assert unavailable and {a[2] for a in unavailable} == {"controller_unavailable"}, answers
    assert answers[0][1] == 503 and answers[0][0] < 5.0, answers[:3]  # measured: tens of ms
    assert all(a[1] in (200, 503) for a in answers), answers
    assert unavailable[0][0] < answers[-1][0], "the outage must be answered before the controller is back"
    assert call(base, "/v1/stats")[1]["stats_since_s"] > stats_since_s
    # /health during the outage: a prompt 503 controller_unavailable too (or warming_up once it is back)
    assert ("controller_unavailable" in {out.get("reason") for status, out in health if status == 503}), health
    assert all(status == 200 or out.get("reason") in ("controller_unavailable", "warming_up")
               for status, out in health), health
