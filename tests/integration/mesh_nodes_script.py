"""Run by test_runtime_mesh_nodes.py in its own process: mesh groups on a fake 3-node cluster.

``ray.cluster_utils.Cluster`` fakes a head node without GPUs and two worker nodes with two fake
GPUs each. It normally advertises itself in /tmp/ray/ray_current_cluster (where any other
``ray.init()`` on this machine would find and join it) and deletes that file on shutdown; both are
switched off here so this test never touches another Ray instance. Prints one JSON line.
"""
import json

import ray._common.utils
import ray._private.utils

ray._private.utils.write_ray_address = lambda *args, **kwargs: None
ray._common.utils.reset_ray_address = lambda *args, **kwargs: None

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from alpa_serve_like.core.parallel_config import ParallelConfig  # noqa: E402
from alpa_serve_like.core.plan import GroupPlacement  # noqa: E402
from alpa_serve_like.runtime.mesh_group import MeshGroup, MeshGroupError, resolve_use_gpu  # noqa: E402
from alpa_serve_like.runtime.options import RuntimeOptions  # noqa: E402


def main() -> None:
    cluster = Cluster(initialize_head=True, connect=True,
                      head_node_args={"num_cpus": 1, "object_store_memory": 100 * 1024**2})
    workers = [cluster.add_node(num_cpus=1, num_gpus=2, object_store_memory=100 * 1024**2) for _ in range(2)]
    cluster.wait_for_nodes()
    out = {"head": cluster.head_node.node_id, "workers": [n.node_id for n in workers]}
    try:
        options = RuntimeOptions(device="auto", startup_timeout_s=120)
        out["auto_uses_gpu"] = resolve_use_gpu(options)
        group = GroupPlacement(ParallelConfig(1, 1, 2), ("bert-tiny-0",))
        groups = [MeshGroup(g, group, options, use_gpu=True) for g in range(2)]
        out["groups"] = [[{"node": i["node_id"], "gpus": i["gpu_ids"], "stage": i["stage"]} for i in g.start()]
                         for g in groups]
        tokens = np.arange(8, dtype=np.int64).reshape(1, 8)
        out["outputs"] = [ray.get(g.submit("bert-tiny-0", tokens).last, timeout=60)["summary"] for g in groups]
        third = MeshGroup(2, group, RuntimeOptions(device="gpu", startup_timeout_s=3), use_gpu=True)
        try:
            third.start()
            out["third"] = "placed"
        except MeshGroupError as exc:
            out["third"] = str(exc)
        for g in groups:
            g.shutdown()
        # Intra-op parallelism: op=2 shards every layer over two devices (gloo here, no CUDA).
        tp = MeshGroup(3, GroupPlacement(ParallelConfig(1, 2, 1), ("bert-tiny-0",)), options, use_gpu=True)
        out["op2_nodes"] = sorted({i["node_id"] for i in tp.start()})
        out["op2_output"] = ray.get(tp.submit("bert-tiny-0", tokens).last, timeout=60)["summary"]
        tp.shutdown()
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
