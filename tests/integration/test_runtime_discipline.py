"""Live server under queue disciplines: a long model floods the group a short model shares.

One 1-device group hosts bert-mini-0 (length 128: ~28 ms a request on one core) and bert-tiny-0
(length 8: ~0.5 ms). The same flood runs under fcfs and then srpt, in this one test, against real
Ray stage actors (the controller runs in the test process, as the Serve replica would run it).
Decided by the served order, not by how fast this machine is: the short requests are sent only
once every long one is dispatched (and, under srpt, parked in the stage actor); under fcfs every
short request completes after all the long requests queued before it, under srpt ahead of most.
"""
import asyncio

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LONG, SHORT = "bert-mini-0", "bert-tiny-0"
NUM_LONG, NUM_SHORT = 24, 4


def _controller(discipline: str):
    from alpa_serve_like.controllers.controller import ControllerBase
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.profiling.database import ProfilingDatabase
    from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
    from alpa_serve_like.runtime.options import RuntimeOptions

    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), (LONG, SHORT)),))
    # The serve-run spelling: flat key=value strings.
    options = RuntimeOptions.from_args({"device": "cpu", "discipline": discipline, "fairness_threshold": "1e6",
                                        "admission": "false", "drop_doomed_at_dispatch": "false",
                                        "health_check_period_s": "0", "warm_up": "false"})
    profiles = instance_profiles(placement.models, load_database(options.database), options.profile_device)
    shipped = ProfilingDatabase()
    for profile in {p.name: p for p in profiles.values()}.values():
        shipped.add(profile)
    return ControllerBase(placement.to_dict(), options.to_dict(), shipped.to_plain())


async def _until(condition, what: str, timeout_s: float = 60.0):
    """Poll ``condition`` (an async callable) until it holds; polling, not a sleep, decides."""
    import time

    give_up = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.002)


async def _flood(controller, discipline):
    """Learn both models once, then NUM_LONG long requests at once and, once they are all queued,
    NUM_SHORT short ones. Returns the completion order of the models (one stage serving one call
    at a time: the served order)."""
    import math
    import time

    async def one(model, length):
        out = await controller.infer(model, length, None, None, time.time())
        assert out["outcome"] == "ok", out
        done.append(model)
        return out["timing_ms"]["total"]

    done: list[str] = []
    await one(LONG, 128)
    await one(SHORT, 8)
    done.clear()
    longs = [asyncio.ensure_future(one(LONG, 128)) for _ in range(NUM_LONG)]
    group = controller.core.groups[0]

    async def all_dispatched():  # Ray then delivers them to the actor ahead of anything sent later
        in_flight = sum(not math.isnan(b.dispatch_s) for b in group.batches.values())
        return in_flight + done.count(LONG) >= NUM_LONG

    await _until(all_dispatched, "every long request is dispatched")
    if discipline != "fcfs":
        actor = group.backend.actors[0][0]

        async def all_parked():  # every unanswered long request but the running one waits its turn
            return await actor.num_waiting.remote() >= NUM_LONG - done.count(LONG) - 1

        await _until(all_parked, "the long requests are parked in the ordered stage actor")
    done.append("shorts sent")
    await asyncio.gather(*(one(SHORT, 8) for _ in range(NUM_SHORT)))
    await asyncio.gather(*longs)
    return done


def _longs_before_each_short(order):
    """(long requests still unanswered when the shorts were sent, and for each short request how
    many of those were answered before it)."""
    sent = order.index("shorts sent")
    after = order[sent + 1:]
    out, longs = [], 0
    for model in after:
        if model == LONG:
            longs += 1
        else:
            out.append(longs)
    return after.count(LONG), out


def test_srpt_serves_the_short_model_ahead_of_a_long_flood(ray_session):
    results = {}
    for discipline in ("fcfs", "srpt"):
        controller = _controller(discipline)
        try:
            order = asyncio.run(asyncio.wait_for(_flood(controller, discipline), 120))
            actor = controller.core.groups[0].backend.actors[0][0]
            served = ray_session.get(actor.served_order.remote()) if discipline == "srpt" else None
        finally:
            controller.core.shutdown()
        results[discipline] = (_longs_before_each_short(order), served)
    print(results)  # shown with -s
    (fcfs_queued, fcfs_before), _ = results["fcfs"]
    (srpt_queued, srpt_before), served = results["srpt"]
    # The flood was there: most long requests were still queued when the shorts came.
    assert min(fcfs_queued, srpt_queued) >= NUM_LONG // 2, results
    # fcfs: every long request queued ahead of a short one (all were dispatched before it) is served
    # first. srpt: a short one waits at most for the long ones that started before it reached the
    # actor (one, more on a slow machine): far fewer than half of those queued.
    assert min(fcfs_before) >= fcfs_queued - 1, results  # 1: two answers arriving together may swap
    assert max(srpt_before) <= srpt_queued // 2, results
    assert served is not None and len(served) == NUM_LONG + NUM_SHORT + 2
    # The actor's own record agrees: the short batches (admitted last, so the highest ids) were
    # served before most of the flood.
    flood = served[2:]
    short_ids = set(sorted(flood)[-NUM_SHORT:])
    assert max(i for i, job in enumerate(flood) if job in short_ids) <= NUM_LONG // 2, served
