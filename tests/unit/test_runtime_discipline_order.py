"""Queue disciplines in the runtime without Ray: a stage actor's ready-call queue (``StageQueue``)
and the controller's choice of the next batch (``DispatchOrder``) on fake groups."""
import asyncio
import math
import time

import pytest

from alpa_serve_like.runtime.stage_queue import StageQueue, ticket_for
from test_runtime_controller_core import STAGE_S, FakeGroup, make_core, request, run


def _serve(queue: StageQueue, calls, compute_s):
    """Run ``calls`` = [(model, ticket)] through ``queue`` (all parked while the first runs); each
    'computes' ``compute_s[model]``, reported to the queue. Returns the job ids in service order."""

    async def one(model, ticket):
        await queue.turn(model, ticket)
        await asyncio.sleep(0)
        queue.release(model, compute_s[model])

    async def go():
        await asyncio.gather(*(one(m, t) for m, t in calls))
        return list(queue.served)

    return asyncio.run(go())


def _t(job, arrival_s, deadline_s=math.inf, estimates=()):
    return ticket_for(job, arrival_s, deadline_s, list(estimates))


def test_stage_queue_serves_ready_calls_by_the_discipline():
    calls = [("long", _t(0, 0.0)), ("long", _t(1, 0.1)), ("short", _t(2, 0.2)), ("long", _t(3, 0.3)),
             ("short", _t(4, 0.4))]
    compute = {"long": 1.0, "short": 0.1}
    # fcfs: arrival order. srpt: job 0 runs first (nothing else is parked yet); then short (unknown
    # estimate 0, then 0.1) before long (1.0 once observed).
    assert _serve(StageQueue("fcfs", 1e6, 0, 1), calls, compute) == [0, 1, 2, 3, 4]
    assert _serve(StageQueue("srpt", 1e6, 0, 1), calls, compute) == [0, 2, 4, 1, 3]
    # edf by the tickets' deadlines.
    by_deadline = [("long", _t(0, 0.0, 9.0)), ("long", _t(1, 0.1, 3.0)), ("short", _t(2, 0.2, 5.0))]
    assert _serve(StageQueue("edf", 1e6, 0, 1), by_deadline, compute) == [0, 1, 2]


def test_stage_queue_takes_the_other_stages_estimates_from_the_ticket():
    # Stage 0 of 2: 'long' is short here (0.1 s) but the controller says stage 1 takes 5 s.
    calls = [("a", _t(0, 0.0)), ("long", _t(1, 0.1, estimates=[math.nan, 5.0])), ("a", _t(2, 0.2))]
    queue = StageQueue("srpt", 1e6, 0, 2)
    assert _serve(queue, calls, {"a": 0.5, "long": 0.1}) == [0, 2, 1]  # a: 0.5 left < long: 5
    assert queue.state.work.estimate_s("long", 1) == 5.0
    assert queue.state.work.estimate_s("long", 0) == 0.1  # its own stage: observed, not adopted


def test_warm_up_calls_without_a_ticket_go_first_and_a_cancelled_wait_leaves():
    async def go():
        queue = StageQueue("srpt", 1e6, 0, 1)
        await queue.turn("m", _t(5, 0.0))  # running
        waiter = asyncio.ensure_future(queue.turn("m", _t(6, 1.0)))
        warm = asyncio.ensure_future(queue.turn("m", None))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.sleep(0)
        queue.release("m", 0.01)
        await warm
        queue.release("m", 0.01)
        return list(queue.served), queue._busy

    assert asyncio.run(go()) == ([5, -1], False)


def test_a_release_between_cancel_and_cleanup_skips_the_cancelled_call():
    """Task.cancel() cancels the parked future at once; the task leaves the queue only on its next
    step. A release in between must pass the turn to the next live call."""

    async def go():
        queue = StageQueue("fcfs", 1e6, 0, 1)
        await queue.turn("m", _t(0, 0.0))  # running
        waiter = asyncio.ensure_future(queue.turn("m", _t(1, 1.0)))
        later = asyncio.ensure_future(queue.turn("m", _t(2, 2.0)))
        await asyncio.sleep(0)
        assert queue.num_waiting() == 2
        waiter.cancel()
        assert queue.num_waiting() == 1  # the cancelled call no longer counts
        queue.release("m", 0.01)  # before the cancelled task has run its cleanup
        await asyncio.wait_for(later, 1)
        queue.release("m", 0.01)
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return list(queue.served), queue._busy, len(queue._waiting)

    assert asyncio.run(go()) == ([0, 2], False, 0)


class TicketGroup(FakeGroup):
    """FakeGroup that records each submission's ticket, runs model 'bert-tiny-1' 3x slower, and
    holds the next batch it starts until ``hold`` (an asyncio.Event, when set on it) is set."""

    hold = None

    def submit(self, model, tokens, ticket=None):
        self.slow = 3.0 if model == "bert-tiny-1" else 1.0
        self.log.append(("ticket", model, ticket))
        return super().submit(model, tokens)

    async def _run(self, tokens, first, last):
        if self.hold is not None:
            hold, self.hold = self.hold, None
            await hold.wait()
        await super()._run(tokens, first, last)


def test_stale_batches_leave_the_queue_before_the_discipline_ranks_it(monkeypatch):
    """A batch already answered (or of a failed generation) is neither ranked nor charged credit."""
    import test_runtime_controller_core as fakes
    from alpa_serve_like.runtime.controller_state import QueuedBatch

    monkeypatch.setattr(fakes, "FakeGroup", TicketGroup)
    core, _, _ = make_core(discipline="srpt", admission=False, drop_doomed_at_dispatch=False)
    ranked = []
    take = core.order.take

    def recording_take(group, queue, num_stages, now_s):
        ranked.append([b.batch_id for b in queue if b.done or b.generation != core.groups[group].generation])
        return take(group, queue, num_stages, now_s)

    core.order.take = recording_take

    async def go():
        await core.infer(request())
        st = core.groups[0]
        st.queue.append(QueuedBatch(-7, 0, st.generation, "bert-tiny-0", 0.0, done=True))
        st.queue.append(QueuedBatch(-8, 0, st.generation + 5, "bert-tiny-0", 0.0))
        return await core.infer(request())

    out = run(go())
    assert out["outcome"] == "ok", out
    assert ranked and all(stale == [] for stale in ranked), ranked
    assert not core.groups[0].queue


@pytest.mark.parametrize("discipline", ["fcfs", "srpt"])
def test_controller_dispatches_the_next_batch_by_the_discipline(discipline, monkeypatch):
    import test_runtime_controller_core as fakes

    monkeypatch.setattr(fakes, "FakeGroup", TicketGroup)
    core, log, backends = make_core(groups=((1, ("bert-tiny-0", "bert-tiny-1")),), max_batch_size=2,
                                    discipline=discipline, admission=False, drop_doomed_at_dispatch=False)

    async def until(condition):
        while not condition():
            await asyncio.sleep(0.001)

    async def go():
        # Learn both models' times, then: a long batch is held running while two long and one short
        # request queue (the two long ones share a batch); which batch goes next?
        await core.infer(request("bert-tiny-1"))
        await core.infer(request("bert-tiny-0"))
        gate = backends[(0, 0)].hold = asyncio.Event()
        first = asyncio.ensure_future(core.infer(request("bert-tiny-1")))
        await until(lambda: sum(e[0] == "ticket" for e in log) == 3)
        rest = [asyncio.ensure_future(core.infer(request(m))) for m in ("bert-tiny-1", "bert-tiny-1", "bert-tiny-0")]
        await until(lambda: sum(len(b.requests) for b in core.groups[0].queue) == 3)
        gate.set()
        return await asyncio.gather(first, *rest)

    outs = asyncio.run(asyncio.wait_for(go(), 10))
    assert all(o["outcome"] == "ok" for o in outs)
    models = [entry[1] for entry in log if entry[0] == "ticket"][2:]
    # The two long requests share a batch unless the second came after the first's predicted start
    # (a loaded machine); either way fcfs sends the short one last and srpt right after the held one.
    assert models[0] == "bert-tiny-1" and models.count("bert-tiny-0") == 1
    assert models.index("bert-tiny-0") == (len(models) - 1 if discipline == "fcfs" else 1), models
    tickets = [entry[2] for entry in log if entry[0] == "ticket"]
    if discipline == "fcfs":
        assert tickets == [None] * 5
    else:
        assert tickets[0]["estimates_s"] == [pytest.approx(math.nan, nan_ok=True)]
        assert tickets[-1]["estimates_s"][0] >= 2 * STAGE_S  # the long model, learned
        assert time.time() >= tickets[-1]["arrival_s"]


def test_serve_run_arguments_choose_the_discipline():
    from alpa_serve_like.runtime.options import RuntimeOptions, RuntimeOptionsError

    sched = RuntimeOptions.from_args({"discipline": "srpt", "fairness_threshold": "10"}).scheduling
    assert (sched.discipline, sched.fairness_threshold) == ("srpt", 10.0)
    assert RuntimeOptions.from_args({}).scheduling.discipline == "fcfs"
    with pytest.raises(RuntimeOptionsError, match="unknown queue discipline 'lifo'"):
        RuntimeOptions.from_args({"discipline": "lifo"})


@pytest.mark.parametrize("discipline, outcome", [("fcfs", "rejected"), ("srpt", "ok")])
def test_doomed_at_dispatch_is_judged_without_the_fifo_queue_under_srpt(discipline, outcome, monkeypatch):
    """A short request behind two long ones, deadline 100 ms, on a fake clock that stands still
    and with the long model known to take 3x its profile: its FIFO finish (60 + 60 + 20 ms) is
    late, so fcfs drops it at dispatch; srpt judges it by its own work (20 ms) and keeps it."""
    import test_runtime_controller_core as fakes

    monkeypatch.setattr(fakes, "FakeGroup", TicketGroup)
    clock = [1000.0]
    core, _, _ = make_core(groups=((1, ("bert-tiny-0", "bert-tiny-1")),), discipline=discipline,
                           admission=False, drop_doomed_at_dispatch=True, correction_alpha=1e-9, overhead_alpha=0.0)
    core.clock = lambda: clock[0]
    core.scheduler.mark_up(0, clock[0])
    # Known, not learned (alpha ~0: the real sleeps' measurements cannot move it).
    long_id = core.scheduler.tables.model_names.index("bert-tiny-1")
    for replica in core.scheduler.tables.replicas_of(long_id):
        core.scheduler.correction.set_scale(int(replica), 0, 3.0)

    async def go():
        outs = await asyncio.gather(core.infer(request("bert-tiny-1"), arrival_s=clock[0]),
                                    core.infer(request("bert-tiny-1"), arrival_s=clock[0]),
                                    core.infer(request("bert-tiny-0", slo_ms=100), arrival_s=clock[0]))
        return outs[-1]

    short = asyncio.run(asyncio.wait_for(go(), 10))
    assert short["outcome"] == outcome, short
    if outcome == "rejected":
        assert short["reason"] == "doomed"
