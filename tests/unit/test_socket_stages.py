"""The socket stage transport (``runtime/socket_stages.py``) without Ray: server threads in this
process (or a forked one, to be killed) stand in for the stage actors."""
import asyncio
import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

from alpa_serve_like.runtime.socket_stages import SocketStage, StageRunError, StageSocketServer, supported

pytestmark = pytest.mark.skipif(not supported(), reason="abstract Unix sockets are Linux's")


class Lost(RuntimeError):
    """Stands in for mesh_group.StageTransportError."""


def adder(stage: int, pp: int):
    """Stage ``stage`` of a pipeline that adds ``stage + 1`` to every input element; the last
    stage answers the sum, like StageWorker._run's (payload, timing)."""
    def run(model: str, payload: dict):
        if model == f"broken-at-{stage}":
            raise ValueError(f"bad weights in stage {stage}")
        x = payload["x"] + (stage + 1)
        timing = {"stage": stage, "end_wall_s": time.time()}
        timings = payload["timings"] + [timing]
        if stage == pp - 1:
            return {"summary": [{"model": model, "sum": int(x.sum())}], "timings": timings}, timing
        return {"x": x, "timings": timings}, timing
    return run


def pipeline(pp: int) -> tuple[list[StageSocketServer], SocketStage]:
    servers = [StageSocketServer(adder(s, pp), s, pp) for s in range(pp)]
    for s in range(pp - 1):
        servers[s].link_next(servers[s + 1].address)
    return servers, SocketStage([server.address for server in servers], Lost)


def ids(i: int, n: int = 4) -> dict:
    return {"x": np.full((1, n), i, dtype=np.int64), "timings": []}


@pytest.mark.parametrize("pp", [1, 3])
def test_answers_come_back_for_every_call_including_those_made_before_the_connections_opened(pp):
    servers, stage = pipeline(pp)
    offset = 4 * sum(range(1, pp + 1))  # each stage adds its number to 4 elements

    async def main():
        calls = [stage.call("m", ids(i)) for i in range(20)]
        firsts = await asyncio.gather(*(first for first, _ in calls))
        answers = await asyncio.gather(*(last for _, last in calls))
        return firsts, answers

    firsts, answers = asyncio.run(main())
    assert [a["summary"][0]["sum"] for a in answers] == [4 * i + offset for i in range(20)]
    assert [len(a["timings"]) for a in answers] == [pp] * 20  # every stage's record rides along
    if pp > 1:  # stage 0's own timing record, before the answer
        assert [f["stage"] for f in firsts] == [0] * 20
    for server in servers:
        server.close()


@pytest.mark.parametrize("pp, broken_stage", [(1, 0), (3, 1), (3, 2)])
def test_a_model_error_fails_that_call_only_and_the_stages_keep_serving(pp, broken_stage):
    servers, stage = pipeline(pp)

    async def main():
        _, bad = stage.call(f"broken-at-{broken_stage}", ids(0))
        _, good = stage.call("m", ids(1, n=2))
        with pytest.raises(StageRunError, match=f"ValueError: bad weights in stage {broken_stage}"):
            await bad
        return await good

    assert asyncio.run(main())["summary"][0]["sum"] == 2 + 2 * sum(range(1, pp + 1))
    for server in servers:
        server.close()


def _stage_process(conn, stage: int, pp: int, victim: bool) -> None:
    """A stage server in a process of its own (the test kills it); it links to the address it is
    sent, if any, and says so. The victim's model never returns, so a call is in flight when the
    kill comes, however slow the machine."""
    def run(model, payload):
        if victim:
            time.sleep(60)
        return adder(stage, pp)(model, payload)

    server = StageSocketServer(run, stage, pp)
    conn.send(server.address)
    if stage < pp - 1:
        server.link_next(conn.recv())
    conn.send("linked")
    time.sleep(60)


@pytest.mark.parametrize("pp, victim", [(1, 0), (3, 1), (3, 2)])
def test_a_stage_process_that_dies_fails_calls_in_flight_and_later_ones_with_the_transport_error(pp, victim):
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []
    for s in range(pp):
        parent, child = context.Pipe()
        process = context.Process(target=_stage_process, args=(child, s, pp, s == victim), daemon=True)
        process.start()
        pipes.append(parent)
        processes.append(process)
    try:
        addresses = [pipe.recv() for pipe in pipes]
        for s in range(pp - 1):
            pipes[s].send(addresses[s + 1])
        assert [pipe.recv() for pipe in pipes] == ["linked"] * pp  # the chain is whole before the call
        stage = SocketStage(addresses, Lost)

        async def opened():
            while stage.writer is None:  # the connections open (the last stage's READY is back)
                await asyncio.sleep(0.01)

        async def main():
            _, in_flight = stage.call("m", ids(0))
            await asyncio.wait_for(opened(), 10)  # a kill before would fail the connecting instead
            processes[victim].kill()  # SIGKILL, as ray.kill or a crash
            with pytest.raises(Lost, match="socket closed"):
                await asyncio.wait_for(in_flight, 10)
            with pytest.raises(Lost):
                await stage.call("m", ids(1))[1]

        asyncio.run(main())
    finally:
        for process in processes:
            process.kill()
            process.join(5)


def test_a_call_from_a_new_event_loop_opens_new_connections():
    servers, stage = pipeline(2)

    async def one(i):
        return (await stage.call("m", ids(i, n=1))[1])["summary"][0]["sum"]

    assert asyncio.run(one(3)) == 6
    assert asyncio.run(one(5)) == 8  # the first loop is closed; its connections with it
    for server in servers:
        server.close()


def test_a_new_loops_answers_never_go_to_the_old_loops_connection(monkeypatch):
    """CI hung here once: the last stage still held the first loop's answer connection when the
    second loop's call reached it (its thread had not yet read the new connection's first frame),
    so the answer went to a connection nobody reads. The controller now sends calls only after the
    last stage confirms the new answer connection; the delay below makes that race certain."""
    servers, stage = pipeline(2)

    async def one(i):
        return (await asyncio.wait_for(stage.call("m", ids(i, n=1))[1], 10))["summary"][0]["sum"]

    assert asyncio.run(one(3)) == 6
    old_answers = stage.answers_writer  # the first loop's connection stays open while this holds it
    slow_set_answers = servers[1]._set_answers

    def late(conn):
        time.sleep(0.5)
        slow_set_answers(conn)

    monkeypatch.setattr(servers[1], "_set_answers", late)
    assert asyncio.run(one(5)) == 8
    assert old_answers is not None
    for server in servers:
        server.close()


def test_no_server_at_the_address_is_a_transport_error():
    stage = SocketStage(["\0alpa-serve-like-stage-nobody-here"], Lost)

    async def main():
        with pytest.raises(Lost, match="connecting to the stage actors' sockets failed"):
            await asyncio.wait_for(stage.call("m", ids(0))[1], 5)

    asyncio.run(main())


class _SocketBackend:
    """A controller's group backend over one in-process stage server (mesh_group.MeshGroup's
    socket path without Ray)."""

    def __init__(self, run):
        self.server = StageSocketServer(run, 0, 1)
        self.stage = SocketStage([self.server.address], Lost)

    def start(self):
        return [{}]

    async def start_async(self):
        return [{}]

    async def check_alive(self):
        pass

    def shutdown(self):
        self.stage.close()
        self.server.close()

    def submit(self, model, tokens):
        from alpa_serve_like.runtime.controller_core import Submission

        first, last = self.stage.call(model, {"x": tokens, "timings": []})
        return Submission(first=first, last=last)


def test_a_batch_past_its_timeout_on_a_one_stage_group_leaves_the_dispatcher_serving():
    """The controller's ``_finish`` gives up on a stuck batch (cancelling what it awaits) while the
    batching dispatcher awaits the same call's stage-0 future: that must not cancel the dispatcher,
    or the recreated group never gets another batch."""
    import threading
    from dataclasses import replace

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.runtime.controller_core import ControllerCore
    from alpa_serve_like.runtime.options import RuntimeOptions
    from alpa_serve_like.runtime.requests import InferRequest
    from builders import uniform_stage_profile

    entered, release = threading.Event(), threading.Event()

    def run(model, payload):
        if not entered.is_set():  # the first call is stuck until the test ends
            entered.set()
            release.wait(30)
        timing = {"stage": 0, "rank": 0, "start_wall_s": time.time(), "end_wall_s": time.time(), "compute_s": 0.0}
        return {"summary": [{"norm": 1.0}] * len(payload["x"]), "timings": [timing]}, timing

    backends = []

    def factory(g, generation):
        backends.append(_SocketBackend(run))
        return backends[-1]

    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("bert-tiny-0",)),))
    # The stuck batch fails after batch_timeout_s; the recreated group's first request (a new
    # connection, then the call) must finish within it too, so it is not tight for a loaded machine.
    options = RuntimeOptions(health_check_period_s=0, warm_up=False, batch_timeout_s=1.0,
                             scheduling=replace(RuntimeOptions().scheduling, max_batch_size=4))
    core = ControllerCore(placement, {"bert-tiny-0": uniform_stage_profile("bert-tiny", stage_s=0.001)},
                          options, factory, failure_types=(Lost,))
    core.start()

    def request():
        return core.infer(InferRequest("bert-tiny-0", 8, None, None))

    async def main():
        stuck = asyncio.ensure_future(request())
        await asyncio.to_thread(entered.wait, 10)
        queued = await request()  # behind the stuck batch: the dispatcher awaits stage 0 for it
        assert queued["reason"] == "group_failed" and (await stuck)["reason"] == "group_failed"
        while not core.groups[0].up:  # recreated
            await asyncio.sleep(0.01)
        return await asyncio.wait_for(request(), 10)

    try:
        assert asyncio.run(main())["outcome"] == "ok"
    finally:
        release.set()
        core.shutdown()
        for backend in backends:
            backend.server.close()


class _Planted:
    """What another user's process sends; unpickling it would run its ``__reduce__`` here."""

    def __reduce__(self):
        return (_Planted, ())


def _other_user_server(conn, address: str) -> None:
    """Another local user's process serving ``address`` (as after a stage actor died and freed its
    abstract name, which ``/proc/net/unix`` shows every user): it answers every call with a pickle."""
    import socket
    import struct

    os.setgid(65534)
    os.setuid(65534)  # nobody
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(8)
    conn.send("listening")
    import pickle

    body = pickle.dumps((0, True, _Planted()))
    peers = []  # kept open
    while True:
        peers.append(listener.accept()[0])
        try:
            peers[-1].sendall(struct.pack("!I", len(body)) + body)
        except OSError:  # the caller hung up at once
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_a_server_of_another_user_at_a_stage_address_is_refused_before_anything_is_unpickled():
    import uuid

    address = f"\0alpa-serve-like-stage-test-{uuid.uuid4().hex[:12]}"
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_other_user_server, args=(child, address), daemon=True)
    process.start()
    try:
        assert parent.recv() == "listening"
        stage = SocketStage([address], Lost)

        async def main():
            with pytest.raises(Lost, match="uid 65534"):
                await asyncio.wait_for(stage.call("m", ids(0))[1], 5)

        asyncio.run(main())
        with pytest.raises(PermissionError, match="uid 65534"):
            StageSocketServer(adder(0, 2), 0, 2).link_next(address)  # a stage's link checks it too
    finally:
        process.kill()
        process.join(5)


@pytest.mark.parametrize("pp", [1, 2])
def test_an_output_too_big_for_a_frame_fails_that_call_only(pp, monkeypatch):
    """A stage whose output cannot be framed (over ``MAX_FRAME_BYTES`` here; a pickling error
    alike) answers that call with the reason, instead of its serving thread dying with the
    connection open (the call, and every later one, then hung until the controller's timeout)."""
    from alpa_serve_like.runtime import socket_stages

    monkeypatch.setattr(socket_stages, "MAX_FRAME_BYTES", 4096)

    def big_at_first(stage: int):
        def run(model, payload):
            out, timing = adder(stage, pp)(model, payload)
            if model == "big":
                out = dict(out, x=np.zeros(8192), summary=[{"model": model, "blob": b"\0" * 8192}])
            return out, timing
        return run

    servers = [StageSocketServer(big_at_first(s), s, pp) for s in range(pp)]
    for s in range(pp - 1):
        servers[s].link_next(servers[s + 1].address)
    stage = SocketStage([server.address for server in servers], Lost)

    async def main():
        with pytest.raises(StageRunError, match="stage 0 could not send its output: ValueError: .* exceeds"):
            await asyncio.wait_for(stage.call("big", ids(0))[1], 5)
        return await asyncio.wait_for(stage.call("m", ids(1, n=2))[1], 5)

    try:
        assert asyncio.run(main())["summary"][0]["sum"] == 2 + 2 * sum(range(1, pp + 1))
    finally:
        for server in servers:
            server.close()


def test_an_old_loops_answer_to_its_closed_connection_leaves_the_last_stage_serving(monkeypatch):
    """A call of a first event loop is still in the pipeline when that loop is gone and a second
    loop opens its connections (closing the first's): the last stage then answers on the first
    loop's connection, closed by the controller. That answer has no reader; the stage must not
    take the failed send for a broken chain and close itself (and the second loop's connection).
    The events below make that order certain: the old answer goes out before the last stage has
    seen the old connection's end and before it takes the new one."""
    from alpa_serve_like.runtime import socket_stages

    servers, stage = pipeline(2)
    held, attempted = threading.Event(), threading.Event()
    run_last = servers[1].run

    def hold_then_run(model, payload):
        if model == "held":
            held.wait(10)
        return run_last(model, payload)

    answer, set_answers, read_frame = servers[1]._answer, servers[1]._set_answers, socket_stages._read_frame
    old_connection_threads = []

    def answer_then_tell(frame, conn):
        try:
            return answer(frame, conn)
        finally:
            attempted.set()

    def set_answers_after_the_old_answer(conn):
        if old_connection_threads:  # the second loop's connection
            attempted.wait(10)
        else:
            old_connection_threads.append(threading.current_thread())
        set_answers(conn)

    def read_frame_seeing_the_old_end_late(stream):
        value = read_frame(stream)
        if value is None and threading.current_thread() in old_connection_threads:
            attempted.wait(10)
        return value

    monkeypatch.setattr(servers[1], "run", hold_then_run)
    monkeypatch.setattr(servers[1], "_answer", answer_then_tell)
    monkeypatch.setattr(servers[1], "_set_answers", set_answers_after_the_old_answer)
    monkeypatch.setattr(socket_stages, "_read_frame", read_frame_seeing_the_old_end_late)

    async def leave_one_in_flight():
        first, _ = stage.call("held", ids(0, n=1))
        await asyncio.wait_for(first, 10)  # past stage 0: the last stage holds it

    async def one(i):
        first, last = stage.call("m", ids(i, n=1))
        held.set()  # the first loop's sockets are closed by now
        return (await asyncio.wait_for(last, 10))["summary"][0]["sum"]

    try:
        asyncio.run(leave_one_in_flight())
        assert asyncio.run(one(5)) == 8
    finally:
        held.set()
        for server in servers:
            server.close()


def test_a_connection_accepted_while_the_server_closes_is_closed_too(monkeypatch):
    """``close`` closes every connection the server holds; one its accept thread had taken but not
    yet recorded when ``close`` ran must not stay served by the closed server. The lock below runs
    ``close`` in that gap, every time."""
    server = StageSocketServer(adder(0, 1), 0, 1)
    stage = SocketStage([server.address], Lost)
    lock = server.lock

    class CloseBeforeRecording:
        """The server's lock; the accept thread, about to record its new connection, first waits
        for a ``close`` from another thread."""

        def __enter__(self):
            if threading.current_thread().name == "stage-socket-accept" and not server.broken:
                closer = threading.Thread(target=server.close)
                closer.start()
                closer.join(10)
            return lock.__enter__()

        def __exit__(self, *exc):
            return lock.__exit__(*exc)

    monkeypatch.setattr(server, "lock", CloseBeforeRecording())

    async def main():
        with pytest.raises(Lost, match="socket closed"):
            await asyncio.wait_for(stage.call("m", ids(0))[1], 5)

    asyncio.run(main())


def test_closing_after_the_event_loop_is_gone_closes_that_loops_connections():
    """A group shut down after its calls' event loop closed (a test's ``asyncio.run`` returned):
    its connections are closed then, not left open to the stage servers until garbage collection."""
    servers, stage = pipeline(2)

    async def one(i):
        return (await asyncio.wait_for(stage.call("m", ids(i, n=1))[1], 10))["summary"][0]["sum"]

    try:
        assert asyncio.run(one(3)) == 6
        assert servers[1].answers is not None
        stage.close()
        deadline_s = time.monotonic() + 5
        while servers[1].answers is not None and time.monotonic() < deadline_s:  # its end reaches the stage
            time.sleep(0.01)
        assert servers[1].answers is None
    finally:
        for server in servers:
            server.close()
