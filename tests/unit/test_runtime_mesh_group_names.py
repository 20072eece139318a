"""Placement-group names are unique per owner (Serve app + controller replica) and generation;
which groups are called over a compiled graph."""
import pytest

from alpa_serve_like.runtime.mesh_group import placement_group_name, serve_owner_token


def test_names_differ_across_apps_replicas_groups_and_generations():
    owners = ["app-a.r1", "app-b.r1", "app-a.r2"]
    names = {placement_group_name(o, g, n) for o in owners for g in range(2) for n in range(3)}
    assert len(names) == len(owners) * 2 * 3
    assert placement_group_name("app-a.r1", 1, 2) == "alpa-serve-like.app-a.r1.group1.gen2"


def test_outside_a_serve_replica_each_owner_token_is_fresh():
    a, b = serve_owner_token(), serve_owner_token()
    assert a.startswith("local.") and a != b


@pytest.mark.parametrize("owner", ["", "has space"])
def test_a_bad_owner_token_is_refused(owner):
    with pytest.raises(ValueError, match="owner token"):
        placement_group_name(owner, 0, 0)


def test_one_node_op_groups_meet_through_a_fresh_file_and_others_on_loopback():
    from alpa_serve_like.runtime.stage_worker import StageWorker

    worker = StageWorker(0, 0, 1, ["bert-tiny-0"], seed=0, use_gpu=False, torch_threads=1, op_rank=0, op_size=2)
    a, b = worker.rendezvous_address(True), worker.rendezvous_address(True)
    assert a.startswith("file://") and a != b  # no TCP store listening on every interface
    assert worker.rendezvous_address(False).startswith("tcp://127.0.0.1:")


@pytest.mark.parametrize("op, pp, discipline, transport, direct", [
    (1, 1, "fcfs", "compiled_graph", True),
    (1, 1, "fcfs", "socket", True),
    (1, 2, "fcfs", "compiled_graph", False),  # stage 0's own timing record is needed before the end
    (1, 3, "fcfs", "socket", True),  # a chain of links; stage 0 answers its own timing record
    (2, 1, "fcfs", "socket", False),  # op ranks share one input: actor calls
    (1, 1, "srpt", "compiled_graph", False),  # ordered (async) stage actors keep actor calls
    (1, 1, "srpt", "socket", False),
    (1, 1, "fcfs", "actor_call", False),
])
def test_only_op1_fcfs_groups_skip_actor_calls(op, pp, discipline, transport, direct):
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement
    from alpa_serve_like.runtime.mesh_group import MeshGroup
    from alpa_serve_like.runtime.options import RuntimeOptions

    options = RuntimeOptions.from_args({"discipline": discipline, "stage_transport": transport})
    group = MeshGroup(0, GroupPlacement(ParallelConfig(1, op, pp), ("bert-tiny-0",)), options, use_gpu=False,
                      owner="unit.test")
    assert group.direct() is direct
