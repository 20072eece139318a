"""The socket stage transport (``runtime/socket_stages.py``) without Ray: a server thread in this
process stands in for the stage actor."""
import asyncio

import numpy as np
import pytest

from alpa_serve_like.runtime.socket_stages import SocketStage, StageRunError, StageSocketServer, supported

pytestmark = pytest.mark.skipif(not supported(), reason="abstract Unix sockets are Linux's")


class Lost(RuntimeError):
    """Stands in for mesh_group.StageTransportError."""


def echo_stage(model: str, payload: dict) -> dict:
    if model == "broken":
        raise ValueError("bad weights")
    x = payload["x"]
    return {"summary": [{"model": model, "sum": int(x.sum()), "rows": int(x.shape[0])}], "timings": payload["timings"]}


def test_answers_come_back_in_the_order_written_including_calls_made_before_the_connection_opened():
    server = StageSocketServer(echo_stage)
    stage = SocketStage(server.address, Lost)

    async def main():
        futures = [stage.call("m", {"x": np.full((1, 4), i, dtype=np.int64), "timings": []}) for i in range(20)]
        return await asyncio.gather(*futures)

    answers = asyncio.run(main())
    assert [a["summary"][0]["sum"] for a in answers] == [4 * i for i in range(20)]
    server.close()


def test_a_model_error_fails_that_call_only_and_the_stage_keeps_serving():
    server = StageSocketServer(echo_stage)
    stage = SocketStage(server.address, Lost)

    async def main():
        bad = stage.call("broken", {"x": np.zeros((1, 2), dtype=np.int64), "timings": []})
        good = stage.call("m", {"x": np.ones((2, 2), dtype=np.int64), "timings": []})
        with pytest.raises(StageRunError, match="ValueError: bad weights"):
            await bad
        return await good

    assert asyncio.run(main())["summary"][0] == {"model": "m", "sum": 4, "rows": 2}
    server.close()


def _stage_process(conn) -> None:
    """A stage that never answers, in a process of its own (the test kills it mid-call)."""
    import time

    server = StageSocketServer(lambda model, payload: time.sleep(60))
    conn.send(server.address)
    time.sleep(60)


def test_a_stage_process_that_dies_fails_calls_in_flight_and_later_ones_with_the_transport_error():
    import multiprocessing

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_stage_process, args=(child,), daemon=True)
    process.start()
    try:
        stage = SocketStage(parent.recv(), Lost)

        async def main():
            in_flight = stage.call("m", {"x": np.zeros((1, 1), dtype=np.int64), "timings": []})
            await asyncio.sleep(0.2)
            process.kill()  # SIGKILL, as ray.kill or a crash
            with pytest.raises(Lost, match="socket closed"):
                await asyncio.wait_for(in_flight, 10)
            with pytest.raises(Lost):
                await stage.call("m", {"x": np.zeros((1, 1), dtype=np.int64), "timings": []})

        asyncio.run(main())
    finally:
        process.kill()
        process.join(5)


def test_a_call_from_a_new_event_loop_opens_a_new_connection():
    server = StageSocketServer(echo_stage)
    stage = SocketStage(server.address, Lost)

    async def one(i):
        return (await stage.call("m", {"x": np.full((1, 1), i, dtype=np.int64), "timings": []}))["summary"][0]["sum"]

    assert asyncio.run(one(3)) == 3
    assert asyncio.run(one(5)) == 5  # the first loop is closed; its connection with it
    server.close()


def test_no_server_at_the_address_is_a_transport_error():
    stage = SocketStage("\0alpa-serve-like-stage-nobody-here", Lost)

    async def main():
        with pytest.raises(Lost, match="connecting to the stage actor's socket failed"):
            await asyncio.wait_for(stage.call("m", {"x": np.zeros((1, 1), dtype=np.int64), "timings": []}), 5)

    asyncio.run(main())
