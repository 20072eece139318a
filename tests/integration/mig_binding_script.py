"""Run by test_runtime_mig_binding.py in its own process: groups bound to fake MIG instances.

A fake node advertises the custom resources of its MIG instances (two 1g.10gb, one 3g.40gb), as
``ray start --resources`` would on a MIG node. First plain actors: each starts with the options
``bind_to_instances`` returns and reports the CUDA_VISIBLE_DEVICES it sees; a second 3g actor must
stay pending (one instance only). Then ``MeshGroup``s with the bindings ``bind_groups`` gives: each
stage actor sees its instance, the 3g group serves a batch, a second 3g group cannot be placed, and
on CPU a slice group's bundle is its CPU share. The cluster is kept from advertising itself, as in
mesh_nodes_script.py. Prints one JSON line.
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
from alpa_serve_like.runtime.mig_binding import bind_groups, bind_to_instances, parse_nvidia_smi_list  # noqa: E402
from alpa_serve_like.runtime.options import RuntimeOptions  # noqa: E402

SMI = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 1g.10gb     Device  1: (UUID: MIG-11111111-2222-3333-4444-555555555555)
  MIG 1g.10gb     Device  2: (UUID: MIG-66666666-2222-3333-4444-555555555555)
"""


MODEL = "bert-tiny-0"


class Probe:
    def visible(self) -> str:
        return os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")


def _visible(actor) -> str:
    return ray.get(actor.__ray_call__.remote(lambda self: os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")),
                   timeout=60)


def mesh_groups() -> dict:
    """MeshGroups on the fake instances (the probes are gone by now) and one on a CPU share."""
    out = {}
    one = GroupPlacement(ParallelConfig(1, 1, 1), (MODEL,))
    opts = RuntimeOptions(device="cpu", startup_timeout_s=120)
    binds = bind_groups(["a100-80gb/1g.10gb", "a100-80gb/3g.40gb"], parse_nvidia_smi_list(SMI), opts.cpu_per_device)
    groups = [MeshGroup(g, one, opts, use_gpu=False, owner="migtest", binding=b) for g, b in enumerate(binds)]
    for g in groups:
        g.start()
    out["uuids"] = [b.uuid for b in binds]
    out["seen"] = [_visible(g.actors[0][0]) for g in groups]
    tokens = np.arange(8, dtype=np.int64).reshape(1, 8)
    out["served"] = ray.get(groups[1].submit(MODEL, tokens).last, timeout=60)["summary"] is not None
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
    return out


def main() -> None:
    cluster = Cluster(initialize_head=True, connect=True,
                      head_node_args={"num_cpus": 2, "object_store_memory": 100 * 1024**2,
                                      "resources": {"mig:1g.10gb": 2, "mig:3g.40gb": 1}})
    try:
        binds = bind_to_instances(["a100-80gb/1g.10gb", "a100-80gb/3g.40gb", "a100-80gb/1g.10gb"],
                                  parse_nvidia_smi_list(SMI))
        probe = ray.remote(Probe)
        actors = [probe.options(num_cpus=0.1, **b.actor_options).remote() for b in binds]
        seen = ray.get([a.visible.remote() for a in actors], timeout=120)
        extra = probe.options(num_cpus=0.1, **binds[1].actor_options).remote()
        ready, _ = ray.wait([extra.visible.remote()], timeout=5)
        out = {"seen": seen, "uuids": [b.uuid for b in binds], "second_3g_ran": bool(ready)}
        for actor in actors + [extra]:
            ray.kill(actor)  # frees the instances for the mesh groups
        out["mesh"] = mesh_groups()
        print("RESULT " + json.dumps(out))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
