"""The replay client against a tiny in-process aiohttp server (no Ray): open loop, TSV, attainment."""
import asyncio

import numpy as np
import pytest

from alpa_serve_like.client.replay import TSV_COLUMNS, compare_with_simulator, replay_async
from alpa_serve_like.core.workload import Workload


async def start_server(delay_s: float, reject_model: str):
    from aiohttp import web

    seen = []

    async def infer(request):
        body = await request.json()
        name = request.match_info["name"]
        seen.append((name, body))
        if name == reject_model:
            return web.json_response({"error": "no", "reason": "slo", "group": 0}, status=503)
        await asyncio.sleep(delay_s)
        return web.json_response({"group": 1, "batch_size": 1,
                                  "timing_ms": {"total": delay_s * 1e3, "queue": 0.1, "stages": [1.5, 2.5],
                                                "hops": [0.25, 0.5, 0.75]}})

    app = web.Application()
    app.router.add_post("/v1/models/{name}/infer", infer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}", seen


def workload(slo_s):
    arrival = np.arange(6) * 0.03
    return Workload(arrival, np.array([0, 0, 0, 0, 0, 1]), np.full(6, slo_s), ("bert-tiny-0", "gpt-tiny-0"),
                    size=np.array([4, 4, 4, 4, 4, 500]))


def run_replay(slo_s, delay_s=0.15):
    async def go():
        runner, url, seen = await start_server(delay_s, reject_model="gpt-tiny-0")
        try:
            return await replay_async(url, workload(slo_s)), seen
        finally:
            await runner.cleanup()

    return asyncio.run(asyncio.wait_for(go(), 20))


def test_requests_go_out_at_arrival_times_not_after_earlier_answers(tmp_path):
    result, seen = run_replay(slo_s=1.0)
    # Each answer takes 150 ms but requests are 30 ms apart: an open loop sends on schedule.
    assert result.max_send_lag_s() < 0.1
    assert np.all(result.latency_s[:5] >= 0.14)
    assert [b["input"]["length"] for _, b in seen] == [4, 4, 4, 4, 4, 128]  # sizes clipped to seq_len
    assert seen[0][1]["slo_ms"] == pytest.approx(1000.0)
    assert result.attainment == pytest.approx(5 / 6)  # the rejected request is a miss
    assert result.per_model_attainment() == {"bert-tiny-0": 1.0, "gpt-tiny-0": 0.0}
    assert result.counts() == {"ok": 5, "503:slo": 1}
    rows = result.write_tsv(tmp_path / "r.tsv").read_text().splitlines()
    assert rows[0].split("\t") == list(TSV_COLUMNS)
    first = dict(zip(TSV_COLUMNS, rows[1].split("\t")))
    assert first["status"] == "200" and first["stages_ms"] == "1.5,2.5" and first["slo_met"] == "1"
    assert first["hops_ms"] == "0.25,0.5,0.75"
    rejected = dict(zip(TSV_COLUMNS, rows[6].split("\t")))
    assert rejected["reason"] == "slo" and rejected["hops_ms"] == ""


def test_slow_answers_miss_a_tight_slo():
    result, _ = run_replay(slo_s=0.05)
    assert result.attainment == 0.0 and result.counts()["ok"] == 5


def test_comparison_with_the_simulator_uses_the_same_placement_and_workload():
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from builders import uniform_stage_profile

    result, _ = run_replay(slo_s=1.0)
    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("bert-tiny-0",)),))
    profiles = {"bert-tiny-0": uniform_stage_profile("bert-tiny", stage_s=0.01)}
    cmp = compare_with_simulator(result, placement, profiles)
    # gpt-tiny-0 is hosted nowhere: the simulator rejects it (unplaced), serves the rest in time.
    assert cmp["simulated"] == pytest.approx(5 / 6) and cmp["difference"] == pytest.approx(0.0)
    assert cmp["simulated_rejected"]["unplaced"] == 1
