"""Group-partition enumeration for mp-search."""
from alpa_serve_like import ParallelConfig
from alpa_serve_like.placement.partitions import describe, enumerate_partitions, remainder_groups


def test_every_partition_covers_the_cluster_with_valid_shapes():
    parts = enumerate_partitions(32, devices_per_node=8, max_op=8, max_pp=16)
    assert len(parts) == len(set(parts))
    for p in parts:
        assert sum(c.op * c.pp for c in p) == 32
        assert all(c.op <= 8 and c.pp <= 16 for c in p)
    sizes = {p[0].op * p[0].pp for p in parts}
    assert sizes == {1, 2, 4, 8, 16, 32}
    # 32 devices: pp <= 16 forces op >= 2
    assert {(p[0].op, p[0].pp) for p in parts if p[0].op * p[0].pp == 32} == {(2, 16), (4, 8), (8, 4)}
    assert len(parts) == 1 + 2 + 3 + 4 + 4 + 3  # sizes 1, 2, 4, 8, 16 (op <= 8), 32 (pp <= 16)


def test_remainder_devices_become_smaller_pipelines():
    parts = enumerate_partitions(12, devices_per_node=4, max_op=4, max_pp=8)
    eight = [p for p in parts if p[0] == ParallelConfig(1, 1, 8)]
    # 12 = 8 + 4: the 4 left over form one 4-stage pipeline
    assert eight == [(ParallelConfig(1, 1, 8), ParallelConfig(1, 1, 4))]
    assert remainder_groups(7, max_op=8, max_pp=16) == [ParallelConfig(1, 1, 4), ParallelConfig(1, 1, 2),
                                                      ParallelConfig(1, 1, 1)]
    # a group larger than a node must span whole nodes: 6 devices per node rules out 4 and 8
    sizes = {p[0].op * p[0].pp for p in enumerate_partitions(12, devices_per_node=6)}
    assert sizes == {1, 2}


def test_allowed_shapes_filter_and_describe():
    allowed = {ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)}
    parts = enumerate_partitions(4, 4, allowed=allowed)
    assert parts == [(ParallelConfig(1, 1, 1),) * 4, (ParallelConfig(1, 1, 2),) * 2]
    assert describe(parts[1]) == "2x(op1,pp2)"
