"""A group called over local sockets (``stage_transport=socket``, the default for op = 1 fcfs
groups; one stage and a two-stage pipeline) or a Ray compiled graph (``compiled_graph``, one
stage): concurrent requests, and a killed stage actor (the last one) is a group failure that is
answered and recovered from like on actor calls."""
import asyncio
import os
import signal
import time

import pytest
from test_runtime_serve import burst, call, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MODEL = "bert-tiny-0"


# The compiled graph case is slow-marked (run with -m slow): Ray's compiled graph is compiled on the
# first call and its channel readers poll, so on this 2-core machine with two CPU burners its group
# never came up (its warm-up batch timed out) or never recovered within 400 s; with one burner or
# none it passes. The socket, the default, is tested in the default run.
@pytest.mark.parametrize("transport, pp", [("socket", 1), ("socket", 2),
                                           pytest.param("compiled_graph", 1, marks=pytest.mark.slow)])
def test_group_called_directly_serves_and_recovers_from_a_killed_actor(serve_url, tmp_path, transport, pp):
    from ray import serve

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.serve import build_app

    app = f"direct-{transport}-pp{pp}"
    path = tmp_path / "group.json"
    Placement((GroupPlacement(ParallelConfig(1, 1, pp), (MODEL,)),)).save(path)
    serve.run(build_app({"placement": str(path), "device": "cpu", "health_check_period_s": "0.5",
                         "stage_transport": transport}), name=app, route_prefix=f"/{app}")
    base = f"{serve_url}/{app}"
    try:
        wait_ready(base)
        # More calls at once than Ray's default bound on a compiled graph's in-flight executions (10).
        answers = asyncio.run(burst(base, [(MODEL, {"input": {"length": 16}})] * 40))
        assert [status for status, _ in answers] == [200] * 40, answers[:3]
        assert all(len(out["timing_ms"]["stages"]) == pp for _, out in answers)

        controller = serve.get_deployment_handle("Controller", app_name=app)
        victim = controller.actor_info.remote().result(timeout_s=30)[0][-1]["pid"]
        os.kill(victim, signal.SIGKILL)
        killed_s = time.time()
        outcomes = []  # (seconds after the kill, status, reason)
        # Recovery is a redeploy of the group; on a loaded 2-core machine a compiled graph's took
        # over 120 s (its channel readers poll against everything else), so the bound is wide.
        while time.time() < killed_s + 400:
            status, out = call(base, f"/v1/models/{MODEL}/infer", {"input": {"length": 8}}, timeout=120)
            outcomes.append((time.time() - killed_s, status, out.get("reason")))
            if status == 200 and call(base, "/health")[1]["status"] == "ok":
                break
            time.sleep(0.1)
        print(f"{transport}, pp={pp}: after the stage actor kill (s, status, reason):", outcomes[:3], "...", outcomes[-1])
        failed = [o for o in outcomes if o[1] != 200]
        assert failed, "a request right after the kill should have failed"
        assert {o[2] for o in failed} <= {"group_failed", "group_down"}, failed
        assert outcomes[-1][1] == 200, outcomes[-5:]
        groups = call(base, "/v1/stats")[1]["groups"]
        assert groups[0]["restarts"] == 1 and groups[0]["generation"] == 1, groups
        new = controller.actor_info.remote().result(timeout_s=30)[0][-1]["pid"]
        assert new != victim
        answers = asyncio.run(burst(base, [(MODEL, {"input": {"length": 16}})] * 12))
        assert [status for status, _ in answers] == [200] * 12, answers[:3]
    finally:
        serve.delete(app)
