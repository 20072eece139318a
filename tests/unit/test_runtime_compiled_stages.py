"""``CompiledStage``'s error rules on a fake graph (no Ray cluster): the model's own exception
passes through and the graph stays usable; any other failure breaks it for good."""
import asyncio

import pytest
import ray

from alpa_serve_like.runtime.compiled_stages import CompiledStage


class Broken(RuntimeError):
    pass


class FakeGraph:
    def __init__(self, results):
        self.results = list(results)  # each a value or an exception to raise
        self.calls = 0

    async def execute_async(self, model, payload, ticket):
        self.calls += 1
        result = self.results.pop(0)
        future = asyncio.get_running_loop().create_future()
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
        return future


def stage_with(graph: FakeGraph) -> CompiledStage:
    stage = CompiledStage(actor=None, error_type=Broken)
    stage.graph, stage.loop = graph, asyncio.get_running_loop()
    return stage


def test_answers_and_model_errors_pass_through_and_the_graph_stays_usable():
    async def scenario():
        model_error = ray.exceptions.RayTaskError("run_payload", "traceback", KeyError("nope"))
        graph = FakeGraph([{"summary": [1]}, model_error, {"summary": [2]}])
        stage = stage_with(graph)
        assert await stage.call("m", {}, None) == {"summary": [1]}
        with pytest.raises(ray.exceptions.RayTaskError):
            await stage.call("m", {}, None)
        assert await stage.call("m", {}, None) == {"summary": [2]}
        assert not stage.broken

    asyncio.run(scenario())


def test_a_channel_failure_breaks_the_graph_for_every_later_call():
    async def scenario():
        graph = FakeGraph([RuntimeError("DAG execution cancelled"), {"summary": [1]}])
        stage = stage_with(graph)
        with pytest.raises(Broken, match="DAG execution cancelled"):
            await stage.call("m", {}, None)
        with pytest.raises(Broken):
            await stage.call("m", {}, None)
        assert graph.calls == 1  # the broken graph is not called again

    asyncio.run(scenario())


def test_a_one_stage_submission_gives_the_dispatcher_a_future_a_batch_timeout_does_not_cancel():
    """``_finish`` awaits the answer within ``batch_timeout_s`` (a timeout cancels what it awaits)
    while a batching dispatcher awaits ``first``; sharing one awaitable let a stuck batch cancel
    the dispatcher, and the recreated group never got another batch."""
    import numpy as np

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement
    from alpa_serve_like.runtime.controller_state import await_within, awaitable
    from alpa_serve_like.runtime.mesh_group import MeshGroup
    from alpa_serve_like.runtime.options import RuntimeOptions

    class StuckGraph:
        async def execute_async(self, model, payload, ticket):
            return asyncio.get_running_loop().create_future()  # never answered

    group = MeshGroup(0, GroupPlacement(ParallelConfig(1, 1, 1), ("bert-tiny-0",)),
                      RuntimeOptions(stage_transport="compiled_graph"), use_gpu=False, owner="test")
    group.actors = [[None]]

    async def scenario():
        group.direct_stage = stage_with(StuckGraph())
        submission = group.submit("bert-tiny-0", np.ones((1, 4), dtype=np.int64))
        dispatcher = asyncio.ensure_future(awaitable(submission.first))
        with pytest.raises(asyncio.TimeoutError):
            await await_within(awaitable(submission.last), 0.05)
        assert await asyncio.wait_for(dispatcher, 5) is None  # stage 0's turn is over, not cancelled

    asyncio.run(scenario())
