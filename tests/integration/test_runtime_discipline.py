"""Live server under queue disciplines: a long model floods the group a short model shares.

One 1-device group hosts bert-mini-0 (length 128: ~28 ms a request on one core) and bert-tiny-0
(length 8: ~0.5 ms). The same flood runs under fcfs and then srpt, in this one test, against real
Ray stage actors (the controller runs in the test process, as the Serve replica would run it).
Decided by ordering, not by how fast this machine is: under fcfs every short request completes
after (nearly) all the long requests queued before it; under srpt the stage actor serves it next.
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


async def _flood(controller):
    """Learn both models once, then NUM_LONG long requests at once and, while they queue,
    NUM_SHORT short ones. Returns (completion order of models, short latencies in ms)."""
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
    await asyncio.sleep(0.02)  # the longs reach the stage actor (one starts running)
    done.append("shorts sent")
    shorts = await asyncio.gather(*(one(SHORT, 8) for _ in range(NUM_SHORT)))
    await asyncio.gather(*longs)
    return done, sorted(shorts)


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
            order, shorts_ms = asyncio.run(asyncio.wait_for(_flood(controller), 120))
            actor = controller.core.groups[0].backend.actors[0][0]
            served = ray_session.get(actor.served_order.remote()) if discipline == "srpt" else None
        finally:
            controller.core.shutdown()
        results[discipline] = (_longs_before_each_short(order), shorts_ms, served)
    print({k: v[:2] for k, v in results.items()})  # shown with -s
    (fcfs_queued, fcfs_before), fcfs_ms, _ = results["fcfs"]
    (srpt_queued, srpt_before), srpt_ms, served = results["srpt"]
    # The flood was there: most long requests were still queued when the shorts came.
    assert min(fcfs_queued, srpt_queued) >= NUM_LONG // 2, results
    # fcfs: each short waits for the long requests queued ahead of it (a few may not have reached
    # the actor yet). srpt: at most the one running when it arrived, plus one of slack.
    assert min(fcfs_before) >= fcfs_queued - 3, results
    assert max(srpt_before) <= 2, results
    assert srpt_ms[len(srpt_ms) // 2] < 0.5 * fcfs_ms[len(fcfs_ms) // 2], results
    assert served is not None and len(served) == NUM_LONG + NUM_SHORT + 2
