"""Run by test_runtime_mig_binding.py in its own process: groups bound to fake MIG instances.

A fake node advertises the custom resources of its MIG instances (two 1g.10gb, one 3g.40gb); each
group's actor starts with the options ``bind_to_instances`` returns and reports the
CUDA_VISIBLE_DEVICES it sees; a second 3g actor must stay pending (one instance only). The cluster
is kept from advertising itself, as in mesh_nodes_script.py. Prints one JSON line.
"""
import json
import os

import ray._common.utils
import ray._private.utils

ray._private.utils.write_ray_address = lambda *args, **kwargs: None
ray._common.utils.reset_ray_address = lambda *args, **kwargs: None

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from alpa_serve_like.runtime.mig_binding import bind_to_instances, parse_nvidia_smi_list  # noqa: E402

SMI = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 1g.10gb     Device  1: (UUID: MIG-11111111-2222-3333-4444-555555555555)
  MIG 1g.10gb     Device  2: (UUID: MIG-66666666-2222-3333-4444-555555555555)
"""


class Probe:
    def visible(self) -> str:
        return os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")


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
        print("RESULT " + json.dumps({"seen": seen, "uuids": [b.uuid for b in binds],
                                      "second_3g_ran": bool(ready)}))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
