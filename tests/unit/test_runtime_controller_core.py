"""ControllerCore on fake groups (asyncio, no Ray): routing, admission, batching, failure recovery."""
import asyncio
import time
from dataclasses import fields, replace

import pytest

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.runtime.controller_core import ControllerCore, Submission
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.runtime.requests import InferRequest
from alpa_serve_like.scheduling import SchedulingOptions
from builders import uniform_stage_profile

SCHEDULING_FIELDS = {f.name for f in fields(SchedulingOptions)}

STAGE_S = 0.02


class FakeDeath(Exception):
    """Stands for Ray's actor-died errors."""


class FakeGroup:
    """A pipeline of FIFO stages on the event loop; each stage sleeps STAGE_S * batch."""

    def __init__(self, group_id, generation, pp, log):
        self.group_id, self.generation, self.pp, self.log = group_id, generation, pp, log
        self.dead = False
        self.slow = 1.0  # > 1: stages run that much slower than profiled
        self.locks = None

    def start(self):
        return [{"group": self.group_id}]

    async def start_async(self):
        await asyncio.sleep(0.01)
        return self.start()

    async def check_alive(self):
        if self.dead:
            raise FakeDeath("ping: actor is dead")

    def shutdown(self):
        self.dead = True

    def submit(self, model, tokens):
        if self.locks is None:
            self.locks = [asyncio.Lock() for _ in range(self.pp)]
        loop = asyncio.get_running_loop()
        first, last = loop.create_future(), loop.create_future()
        self.log.append((self.group_id, self.generation, model, tokens.shape[0]))
        loop.create_task(self._run(tokens, first, last))
        return Submission(first=first, last=last)

    async def _run(self, tokens, first, last):
        timings = []
        try:
            for s in range(self.pp):
                async with self.locks[s]:
                    if self.dead:
                        raise FakeDeath(f"stage {s} of group {self.group_id} died")
                    start = time.time()
                    await asyncio.sleep(STAGE_S * tokens.shape[0] * self.slow)
                    timings.append({"stage": s, "rank": 0, "start_wall_s": start, "end_wall_s": time.time(),
                                    "compute_s": time.time() - start})
                if s == 0:
                    first.set_result(timings[0])  # a small timing record, like a stage actor's
            last.set_result({"summary": [{"norm": float(row.sum())} for row in tokens], "timings": timings})
        except Exception as exc:
            if not first.done():
                first.set_result(None)  # stage 0 is free (its actor is gone)
            last.set_exception(exc)


def make_core(groups=((1, ("bert-tiny-0",)),), **opts):
    placement = Placement(tuple(GroupPlacement(ParallelConfig(1, 1, pp), models) for pp, models in groups))
    profiles = {m: uniform_stage_profile("bert-tiny", stage_s=STAGE_S) for m in placement.models}
    log, backends = [], {}

    def factory(g, generation):
        backends[(g, generation)] = FakeGroup(g, generation, placement.groups[g].config.pp, log)
        return backends[(g, generation)]

    sched = {k: opts.pop(k) for k in list(opts) if k in SCHEDULING_FIELDS}
    opts.setdefault("warm_up", False)  # timelines below assume cold-free fakes; warm-up tested apart
    options = RuntimeOptions(health_check_period_s=0, scheduling=replace(RuntimeOptions().scheduling, **sched), **opts)
    core = ControllerCore(placement, profiles, options, factory, failure_types=(FakeDeath,))
    core.start()
    return core, log, backends


def request(model="bert-tiny-0", slo_ms=None, length=8):
    return InferRequest(model, length, None, None if slo_ms is None else slo_ms / 1e3)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_one_request_gets_output_and_a_stage_breakdown():
    core, log, _ = make_core(groups=((2, ("bert-tiny-0",)),))

    async def go():
        return await core.infer(request(length=5))

    out = run(go())
    assert out["outcome"] == "ok" and out["group"] == 0 and out["batch_size"] == 1
    assert len(out["timing_ms"]["stages"]) == 2
    assert all(s >= STAGE_S * 1e3 * 0.9 for s in out["timing_ms"]["stages"])
    assert out["timing_ms"]["total"] >= sum(out["timing_ms"]["stages"])
    assert log == [(0, 0, "bert-tiny-0", 1)]
    assert core.stats.snapshot()["models"]["bert-tiny-0"]["ok"] == 1


def test_unknown_model_is_404_with_known_names():
    core, _, _ = make_core()
    out = run(core.infer(request(model="gpt-tiny-0")))
    assert out["outcome"] == "not_found" and out["known_models"] == ["bert-tiny-0"]


def test_admission_rejects_a_request_that_cannot_meet_its_slo():
    core, log, _ = make_core()

    async def go():
        # 1-stage latency is 20 ms: a 5 ms SLO is rejected at arrival, a 200 ms one is served.
        return await asyncio.gather(core.infer(request(slo_ms=5)), core.infer(request(slo_ms=200)))

    rejected, served = run(go())
    assert rejected["outcome"] == "rejected" and rejected["reason"] == "slo"
    assert "misses the SLO" in rejected["error"] and rejected["predicted_latency_ms"] == pytest.approx(20, abs=2)
    assert served["outcome"] == "ok" and served["slo_met"]
    assert len(log) == 1
    snap = core.snapshot()["models"]["bert-tiny-0"]
    assert snap["rejected"] == 1 and snap["ok"] == 1 and snap["attainment"] == 0.5


def test_queued_requests_form_one_batch_behind_the_running_one():
    core, log, _ = make_core(max_batch_size=4)

    async def go():
        return await asyncio.gather(*(core.infer(request()) for _ in range(5)))

    outs = run(go())
    assert [o["outcome"] for o in outs] == ["ok"] * 5
    assert [entry[3] for entry in log] == [1, 4]
    assert sorted(o["batch_size"] for o in outs) == [1, 4, 4, 4, 4]


def test_routing_spreads_load_over_two_groups_hosting_the_model():
    core, log, _ = make_core(groups=((1, ("bert-tiny-0",)), (1, ("bert-tiny-0",))))

    async def go():
        return await asyncio.gather(*(core.infer(request()) for _ in range(4)))

    outs = run(go())
    assert sorted(o["group"] for o in outs) == [0, 0, 1, 1]


def test_a_dead_stage_fails_requests_fast_then_the_group_comes_back():
    core, log, backends = make_core(groups=((2, ("bert-tiny-0",)),))

    async def go():
        first = await core.infer(request())
        backends[(0, 0)].dead = True  # the stage "actor" dies
        t0 = time.time()
        during = await asyncio.gather(*(core.infer(request()) for _ in range(3)))
        failed_in_s = time.time() - t0
        while not core.groups[0].up:  # recovery runs in the background
            await asyncio.sleep(0.01)
        after = await core.infer(request())
        return first, during, failed_in_s, after

    first, during, failed_in_s, after = run(go())
    assert first["outcome"] == "ok"
    assert {(d["outcome"], d["reason"]) for d in during} <= {("failed", "group_failed"), ("rejected", "group_down")}
    assert any("died" in d["error"] for d in during)
    assert failed_in_s < 1.0
    assert after["outcome"] == "ok"
    assert (0, 1) in backends and core.groups[0].restarts == 1
    assert log[-1][:2] == (0, 1)


def test_a_model_hosted_only_on_a_down_group_is_rejected_with_group_down():
    core, _, backends = make_core(recover=False)

    async def go():
        backends[(0, 0)].dead = True
        await core.infer(request())  # discovers the death
        return await core.infer(request())

    out = run(go())
    assert out["outcome"] == "rejected" and out["reason"] == "group_down"


def test_a_failed_group_leaves_routing_so_shortest_queue_uses_the_healthy_one():
    core, _, backends = make_core(groups=((1, ("bert-tiny-0",)), (1, ("bert-tiny-0",))), routing="shortest_queue",
                                  recover=False)

    async def go():
        backends[(0, 0)].dead = True
        found = await asyncio.gather(*(core.infer(request()) for _ in range(2)))  # one per group
        return found, await asyncio.gather(*(core.infer(request()) for _ in range(3)))

    found, after = run(go())
    assert sorted(o["outcome"] for o in found) == ["failed", "ok"]
    assert [(o["outcome"], o["group"]) for o in after] == [("ok", 1)] * 3
    assert not core.scheduler.is_up(0) and core.group_status()[0]["up"] is False


def test_a_queued_request_that_can_no_longer_make_it_is_dropped_before_compute():
    # Profiled 20 ms per request, really 60 ms: the queued request's 70 ms SLO looked fine at arrival.
    core, log, backends = make_core(max_batch_size=4, correction_alpha=0.0, overhead_alpha=0.0)
    backends[(0, 0)].slow = 3.0

    async def go():
        return await asyncio.gather(core.infer(request(slo_ms=1000)), core.infer(request(slo_ms=70)))

    served, dropped = run(go())
    assert served["outcome"] == "ok"
    assert dropped["outcome"] == "rejected" and dropped["reason"] == "doomed"
    assert [entry[3] for entry in log] == [1]  # the doomed request never ran
    assert core.snapshot()["dropped_at_dispatch"] == 1 and core.pending == 0


def test_requests_over_the_pending_limit_are_shed_before_scheduling():
    core, log, _ = make_core(max_pending_requests=2)

    async def go():
        return await asyncio.gather(*(core.infer(request()) for _ in range(4)))

    outs = run(go())
    assert [o["outcome"] for o in outs] == ["ok", "ok", "rejected", "rejected"]
    assert all(o["reason"] == "overloaded" for o in outs[2:]) and len(log) == 2


def test_learned_overheads_reach_the_scheduler():
    core, _, _ = make_core(groups=((2, ("bert-tiny-0",)),))

    async def go():
        for _ in range(3):
            await core.infer(request())

    run(go())
    learned = core.snapshot()["overheads"]
    assert learned["dispatch"]["samples"] == learned["hop"]["samples"] == learned["response"]["samples"] == 3
    assert core.scheduler.per_stage_overhead_s == pytest.approx(core.overheads.hop_s)
    assert core.scheduler.dispatch_overhead_s == pytest.approx(core.overheads.dispatch_s)


def test_high_overhead_estimates_fade_so_admission_cannot_lock_out():
    clock = [1000.0]
    core, log, _ = make_core()
    core.clock = lambda: clock[0]
    core.scheduler.mark_up(0, clock[0])  # idle clocks on the fake time line
    # As if one overloaded burst had taught a ~2 s response overhead: a 100 ms SLO is then rejected,
    # and with nothing admitted no batch would ever come back to correct the estimate.
    core.overheads.observe(999.0, [999.0], [999.0], [0.0], 1000.0)
    core._apply_overheads(clock[0])
    assert core.scheduler.per_stage_overhead_s >= 1.0

    async def go():
        first = await core.infer(request(slo_ms=100), arrival_s=clock[0])
        clock[0] += 10.0  # ten idle seconds: the estimate fades by 2**-20
        second = await core.infer(request(slo_ms=100), arrival_s=clock[0])
        return first, second

    first, second = run(go())
    assert first["reason"] == "slo"
    assert second["outcome"] == "ok" and len(log) == 1


def test_noisy_overheads_do_not_reject_an_on_time_request_and_a_late_one_is_still_rejected():
    clock = [1000.0]
    core, log, _ = make_core(correction_alpha=0.0)
    core.clock = lambda: clock[0]
    core.scheduler.mark_up(0, clock[0])
    est = core.overheads
    # A noisy machine: dispatch and response alternate 1 / 5 ms, the way in 5 / 25 ms. The old
    # predictions (mean + 2 deviations per component, the way out as long as the way in) put a
    # request 84 ms out that is expected to take 44 ms.
    for i in range(60):
        t, noise = float(i), 0.004 * (i % 2)
        est.observe(t, [t + 0.001 + noise], [t + 0.021 + noise], [0.0], t + 0.022 + 2 * noise)
        est.observe_ingress(0.005 + 5 * noise)
    est.last_sample_s = clock[0]  # fresh estimates: no fade
    core._apply_overheads(clock[0])
    # expected: the way in, dispatch, the stage, the response hop and the way out (like the response)
    expected_ms = 1e3 * (0.015 + est.dispatch.mean_s + STAGE_S + 2 * est.response.mean_s)
    assert expected_ms == pytest.approx(44, abs=1)

    async def go():
        sent = clock[0] - 0.015  # the way in took 15 ms
        late = await core.infer(request(slo_ms=expected_ms - 2), arrival_s=sent)
        on_time = await core.infer(request(slo_ms=expected_ms + 12), arrival_s=sent)
        return late, on_time

    late, on_time = run(go())
    assert late["reason"] == "slo"
    # the margin: 2 deviations (~2 ms each here) of the summed overheads, added in quadrature
    assert expected_ms + 4 < late["predicted_latency_ms"] < expected_ms + 12
    assert on_time["outcome"] == "ok" and len(log) == 1


def test_health_is_warming_up_until_every_group_served_each_model_once():
    async def main():
        core, log, _ = make_core(groups=((2, ("bert-tiny-0", "bert-tiny-1")), (1, ("bert-tiny-0",))), warm_up=True)
        core.begin_warm_up()
        before = core.health()
        await asyncio.wait_for(core._warm_up_task, 5)
        after = core.health()
        return before, after, list(log)

    before, after, log = asyncio.run(main())
    assert before["status"] == "warming_up" and before["groups_warm"] == 0
    assert after["status"] == "ok" and after["groups_warm"] == 2
    # one batch of one request per (group, model), before any user request
    assert sorted(log) == [(0, 0, "bert-tiny-0", 1), (0, 0, "bert-tiny-1", 1), (1, 0, "bert-tiny-0", 1)]


def test_a_recreated_group_is_warmed_before_it_rejoins_routing():
    async def main():
        core, log, backends = make_core(warm_up=True)
        core.begin_warm_up()
        await asyncio.wait_for(core._warm_up_task, 5)
        backends[(0, 0)].dead = True
        first = await core.infer(InferRequest("bert-tiny-0", 8, None, None))
        while not core.scheduler.is_up(0):
            await asyncio.sleep(0.01)
        return first, list(log), core.health()

    first, log, health = asyncio.run(main())
    assert first["outcome"] == "failed"
    # generation 1 served its warm-up batch before it was marked up
    assert (0, 1, "bert-tiny-0", 1) in log and health["status"] == "ok" and health["groups_warm"] == 1


def test_stats_say_since_when_they_count():
    before = time.time()
    core, _, _ = make_core()
    since = core.snapshot()["stats_since_s"]
    assert before - 0.01 <= since <= time.time() + 0.01


def test_without_warm_up_health_is_ok_at_once():
    core, log, _ = make_core(warm_up=False)
    health = core.health()
    assert health["status"] == "ok" and health["groups_warm"] == 1 and log == []


def test_admission_adds_the_residual_quantile_once_requests_came_back():
    clock = [1000.0]
    core, _, _ = make_core(correction_alpha=0.0)
    core.clock = lambda: clock[0]
    est = core.overheads
    est.observe(999.0, [999.001], [999.021], [0.0], 999.023)  # response 2 ms
    for ms in range(1, 101):  # answered 1..100 ms after their committed finish
        est.observe_residual(999.5, ms / 1e3)
    est.last_sample_s = clock[0]
    core._apply_overheads(clock[0])
    assert core.scheduler.response_overhead_s == pytest.approx(0.099 + 0.002)  # 99th of 100, the way back
    clock[0] += 6.0  # the residuals leave their 5 s window: the quadrature margin (faded) stands in
    core._apply_overheads(clock[0])
    assert est.residual_quantile_s(clock[0]) is None and core.scheduler.response_overhead_s < 0.01


def test_the_margin_is_applied_for_each_requests_own_slo():
    core, _, _ = make_core(correction_alpha=0.0)
    est, now = core.overheads, core.clock()
    est.observe(now - 1.0, [now - 0.999], [now - 0.979], [0.0], now - 0.977)  # response 2 ms
    est.observe_residual(now, 0.43, requests=3)  # a stall of the machine
    est.observe_residual(now, 0.001, requests=30, latency_s=0.02)
    est.last_sample_s = now

    async def go():
        margins = []
        for slo_ms in (80, 600, 80):
            out = await core.infer(request(slo_ms=slo_ms))
            margins.append((out["outcome"], core.scheduler.response_overhead_s))
        return margins

    # an 80 ms SLO leaves ~58 ms of room: the stall is no margin for it; in a 600 ms SLO's it is
    (tight, t_margin), (loose, l_margin), (tight_again, t2_margin) = run(go())
    assert tight == loose == tight_again == "ok"
    assert t_margin < 0.05 and t2_margin < 0.05 and l_margin > 0.4


def test_the_latency_correction_fades_at_the_options_half_life_and_stats_show_it_faded():
    core, _, _ = make_core(correction_half_life_s=0.5)
    corr = core.scheduler.correction
    corr.update(0, 0, 3 * STAGE_S, STAGE_S, 10.0)  # 3x counts as 2x at alpha 0.2: 1.2
    corr.set_now(10.5)  # one half-life later
    assert core.snapshot()["latency_correction"] == {"bert-tiny-0@group0": [1.1]}
