"""Run by test_runtime_mig_binding.py in its own process: MeshGroups bound to fake MIG instances.

The head node advertises the custom resources of two 1g.10gb and one 3g.40gb instances (as
``ray start --resources`` would on a MIG node); groups on those slices start through
``MeshGroup`` with the bindings ``bind_groups`` gives, each stage actor reports the
CUDA_VISIBLE_DEVICES it sees, the 3g group serves a batch, a second 3g group cannot be placed,
and on CPU a slice group's bundle is its CPU share. The cluster is kept from advertising itself
(as in mesh_nodes_script.py). Prints one JSON line.
"""
import json
import os

import ray._common.utils
import ray._private.utils

ray._private.utils.write_ray_address = lambda *args, **kwargs: None
ray._common.utils.reset_ray_address = lambda *args, **kwargs: None

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray.util import placement_group_table  # noqa: E402

from alpa_serve_like.core.parallel_config import ParallelConfig  # noqa: E402
from alpa_serve_like.core.plan import GroupPlacement  # noqa: E402
from alpa_serve_like.runtime.mesh_group import MeshGroup, MeshGroupError  # noqa: E402
from alpa_serve_like.runtime.mig_binding import bind_groups, parse_nvidia_smi_list  # noqa: E402
from alpa_serve_like.runtime.options import RuntimeOptions  # noqa: E402

SMI = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 1g.10gb     Device  1: (UUID: MIG-11111111-2222-3333-4444-555555555555)
  MIG 1g.10gb     Device  2: (UUID: MIG-66666666-2222-3333-4444-555555555555)
"""
MODEL = "bert-tiny-0"


def _visible(actor) -> str:
    return ray.get(actor.__ray_call__.remote(lambda self: os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")),
                   timeout=60)


def main() -> None:
    cluster = Cluster(initialize_head=True, connect=True,
                      head_node_args={"num_cpus": 2, "object_store_memory": 100 * 1024**2,
                                      "resources": {"mig:1g.10gb": 2, "mig:3g.40gb": 1}})
    out = {}
    try:
        one = GroupPlacement(ParallelConfig(1, 1, 1), (MODEL,))
        opts = RuntimeOptions(device="cpu", startup_timeout_s=120)
        devices = ["a100-80gb/1g.10gb", "a100-80gb/3g.40gb"]
        binds = bind_groups(devices, parse_nvidia_smi_list(SMI), opts.cpu_per_device)
        groups = [MeshGroup(g, one, opts, use_gpu=False, owner="migtest", binding=b) for g, b in enumerate(binds)]
        for g in groups:
            g.start()
        out["uuids"] = [b.uuid for b in binds]
        out["seen"] = [_visible(g.actors[0][0]) for g in groups]
        tokens = np.arange(8, dtype=np.int64).reshape(1, 8)
        out["served"] = bool(ray.get(groups[1].submit(MODEL, tokens).last, timeout=60)["summary"] is not None)
        second = MeshGroup(2, one, RuntimeOptions(device="cpu", startup_timeout_s=3), use_gpu=False,
                           owner="migtest", binding=binds[1])
        try:
            second.start()
            out["second_3g"] = "placed"
        except MeshGroupError as exc:
            out["second_3g"] = str(exc)
        for g in groups:
            g.shutdown()
        share = bind_groups(["a100-80gb/3g.40gb"], None, 0.7)[0]
        cpu = MeshGroup(3, one, RuntimeOptions(device="cpu", cpu_per_device=0.7, startup_timeout_s=120),
                        use_gpu=False, owner="migtest", binding=share)
        cpu.start()
        out["cpu_bundle"] = placement_group_table(cpu.pg)["bundles"][0]
        out["cpu_seen"] = _visible(cpu.actors[0][0])
        cpu.shutdown()
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
