"""``stage_transport=in_process``: which groups run their stage in the controller's process, and
``InProcessStage``'s order, errors and shutdown (Ray-free: a stand-in worker)."""
import asyncio
import threading

import numpy as np
import pytest

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement
from alpa_serve_like.runtime.controller_state import await_within, awaitable
from alpa_serve_like.runtime.in_process_stages import InProcessStage
from alpa_serve_like.runtime.mesh_group import MeshGroup, StageTransportError
from alpa_serve_like.runtime.mig_binding import GroupBinding
from alpa_serve_like.runtime.options import RuntimeOptions


class StandInWorker:
    """``StageWorker.run_payload``'s contract: the last stage's summary and timing records."""

    group_id = 3

    def __init__(self, fail_on: str = "", release: threading.Event | None = None):
        self.fail_on = fail_on
        self.release = release
        self.served: list[tuple[int, str]] = []  # (batch size, thread name), in the order run

    def run_payload(self, model: str, payload: dict, ticket=None) -> dict:
        if self.release is not None:
            assert self.release.wait(10)
        if model == self.fail_on:
            raise ValueError(f"{model} cannot take this input")
        self.served.append((int(payload["x"].shape[0]), threading.current_thread().name))
        return {"summary": [{"norm": 1.0}] * len(payload["x"]), "timings": [{"stage": 0, "compute_s": 0.001}]}


def group_of(pp: int = 1, discipline: str = "fcfs", transport: str = "in_process", use_gpu: bool = False,
             binding: GroupBinding | None = None) -> MeshGroup:
    options = RuntimeOptions.from_args({"discipline": discipline, "stage_transport": transport})
    return MeshGroup(0, GroupPlacement(ParallelConfig(1, 1, pp), ("bert-tiny-0",)), options, use_gpu=use_gpu,
                     owner="unit.test", binding=binding)


@pytest.mark.parametrize("pp, discipline, use_gpu, bound, in_process, serves_socket", [
    (1, "fcfs", False, False, True, False),
    (2, "fcfs", False, False, False, True),  # a pipeline: its stages are actors chained by sockets
    (1, "fcfs", True, False, False, True),  # the GPU is the placement group's, not the controller's
    (1, "fcfs", False, True, False, True),  # so is a MIG slice's share
    (1, "srpt", False, False, False, False),  # ordered stage actors keep actor calls
])
def test_only_one_stage_fcfs_cpu_groups_run_in_the_controller_process(pp, discipline, use_gpu, bound, in_process,
                                                                      serves_socket):
    binding = GroupBinding("1g.10gb", {"num_cpus": 1.0}, bundle={"CPU": 1.0}) if bound else None
    group = group_of(pp, discipline, use_gpu=use_gpu, binding=binding)
    assert group.in_process() is in_process
    assert group._serves_socket() is serves_socket


def test_other_transports_never_run_in_process():
    for transport in ("socket", "compiled_graph", "actor_call"):
        assert not group_of(transport=transport).in_process()


def test_calls_run_in_submission_order_on_the_groups_own_thread():
    worker = StandInWorker()
    stage = InProcessStage(worker, StageTransportError, name="group3-stage0")

    async def scenario():
        futures = [stage.call("m", {"x": np.zeros((n, 4)), "timings": []}) for n in (1, 2, 3, 4)]
        return await asyncio.wait_for(asyncio.gather(*futures), 10)

    answers = asyncio.run(scenario())
    stage.close()
    assert [len(a["summary"]) for a in answers] == [1, 2, 3, 4]
    assert [n for n, _ in worker.served] == [1, 2, 3, 4]
    assert {name.split("_")[0] for _, name in worker.served} == {"group3-stage0"}
    assert threading.current_thread().name not in {name for _, name in worker.served}


def test_a_models_error_fails_that_call_only_and_a_closed_stage_is_a_group_failure():
    stage = InProcessStage(StandInWorker(fail_on="bad"), StageTransportError)

    async def scenario():
        with pytest.raises(ValueError, match="bad cannot take"):  # not StageTransportError: the group stays up
            await stage.call("bad", {"x": np.zeros((1, 4)), "timings": []})
        ok = await stage.call("good", {"x": np.zeros((1, 4)), "timings": []})
        stage.check_alive()
        stage.close()
        with pytest.raises(StageTransportError, match="group 3 is shut down"):
            await stage.call("good", {"x": np.zeros((1, 4)), "timings": []})
        with pytest.raises(StageTransportError):
            stage.check_alive()
        return ok

    assert asyncio.run(scenario())["summary"] == [{"norm": 1.0}]


def test_a_batch_timeout_on_the_answer_leaves_the_dispatchers_future_and_the_next_batch_alone():
    release = threading.Event()
    group = group_of()
    group.direct_stage = InProcessStage(StandInWorker(release=release), StageTransportError)

    async def scenario():
        stuck = group.submit("bert-tiny-0", np.ones((1, 4), dtype=np.int64))
        dispatcher = asyncio.ensure_future(awaitable(stuck.first))
        with pytest.raises(asyncio.TimeoutError):
            await await_within(awaitable(stuck.last), 0.05)
        release.set()
        assert await asyncio.wait_for(dispatcher, 10) is None  # stage 0's turn is over, not cancelled
        following = group.submit("bert-tiny-0", np.ones((2, 4), dtype=np.int64))
        return await asyncio.wait_for(awaitable(following.last), 10)

    assert len(asyncio.run(scenario())["summary"]) == 2
    group.direct_stage.close()


def test_a_shut_down_in_process_group_refuses_submissions():
    group = group_of()
    group.direct_stage = InProcessStage(StandInWorker(), StageTransportError)
    group.shutdown()
    with pytest.raises(Exception, match="has no actors"):
        group.submit("bert-tiny-0", np.ones((1, 4), dtype=np.int64))


class StandInStageWorker(StandInWorker):
    """``StageWorker``'s constructor and ``build`` (records the thread that built it)."""

    def __init__(self, group_id, stage, pp, models, *, fail: bool = False, **kwargs):
        super().__init__()
        self.group_id, self.models, self.kwargs = group_id, models, kwargs
        self.built_on = ""

    def build(self) -> dict:
        self.built_on = threading.current_thread().name
        if "broken-0" in self.models:
            raise KeyError("checkpoint has no tensor 'embed.weight'")
        return {"group": self.group_id, "stage": 0, "pid": 1, "node_id": "here"}


def test_recreating_an_in_process_group_builds_off_the_event_loop(monkeypatch):
    import alpa_serve_like.runtime.mesh_group as mesh_group

    async def placed():
        return None

    monkeypatch.setattr(mesh_group, "StageWorker", StandInStageWorker)
    monkeypatch.setattr(MeshGroup, "_create_placement_group", lambda self: placed())
    group = group_of()

    async def scenario():
        info = await group.start_async()
        answer = await group.submit("bert-tiny-0", np.ones((2, 4), dtype=np.int64)).last
        return info, answer, threading.current_thread().name

    info, answer, loop_thread = asyncio.run(scenario())
    assert info == [{"group": 0, "stage": 0, "pid": 1, "node_id": "here", "in_process": True}]
    assert len(answer["summary"]) == 2
    worker = group.direct_stage.worker
    assert worker.built_on and worker.built_on != loop_thread
    assert worker.kwargs["use_gpu"] is False and group.actors == []
    group.shutdown()


def test_an_in_process_stage_that_cannot_build_says_which_group_and_why(monkeypatch):
    import alpa_serve_like.runtime.mesh_group as mesh_group

    monkeypatch.setattr(mesh_group, "StageWorker", StandInStageWorker)
    options = RuntimeOptions.from_args({"stage_transport": "in_process"})
    group = MeshGroup(2, GroupPlacement(ParallelConfig(1, 1, 1), ("broken-0",)), options, use_gpu=False,
                      owner="unit.test")
    with pytest.raises(mesh_group.MeshGroupError,
                       match=r"mesh group 2 \(broken-0\): its in-process stage could not build its models: "
                             r"KeyError: .*embed.weight"):
        group._build_in_process()
    assert group.direct_stage is None
