"""Binding groups to MIG instances from nvidia-smi -L text, and CPU shares, without Ray."""
import pytest

from alpa_serve_like.runtime.mig_binding import (
    bind_groups,
    bind_to_cpu_shares,
    bind_to_instances,
    list_instances,
    parse_nvidia_smi_list,
    resource_name,
)

SMI = """GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 2g.20gb     Device  1: (UUID: MIG-0a1b2c3d-0000-5de3-91c7-45d71c87eb3f)
  MIG 1g.10gb     Device  2: (UUID: MIG-11111111-2222-3333-4444-555555555555)
  MIG 1g.10gb     Device  3: (UUID: MIG-66666666-2222-3333-4444-555555555555)
GPU 1: Tesla V100-SXM2-16GB (UUID: GPU-aaaaaaaa-d268-c3f3-1b07-005d5ae1dc3f)
"""


def test_parse_lists_instances_with_their_device_types():
    insts = parse_nvidia_smi_list(SMI)
    assert [i.device_type for i in insts] == ["a100-80gb/3g.40gb", "a100-80gb/2g.20gb",
                                              "a100-80gb/1g.10gb", "a100-80gb/1g.10gb"]
    assert insts[0].uuid == "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f" and insts[0].gpu_index == 0


def test_each_group_gets_its_own_instance():
    binds = bind_to_instances(["a100-80gb/1g.10gb", "a100-80gb/1g.10gb", "a100-80gb/3g.40gb"],
                              parse_nvidia_smi_list(SMI))
    assert [b.uuid[:12] for b in binds] == ["MIG-11111111", "MIG-66666666", "MIG-c6d4f1ef"]
    assert binds[2].actor_options["resources"] == {"mig:3g.40gb": 1}
    assert binds[0].actor_options["runtime_env"]["env_vars"]["CUDA_VISIBLE_DEVICES"] == binds[0].uuid
    with pytest.raises(ValueError, match="needs a free 'a100-80gb/1g.10gb'"):
        bind_to_instances(["a100-80gb/1g.10gb"] * 3, parse_nvidia_smi_list(SMI))


def test_cpu_shares_scale_with_compute_slices():
    binds = bind_to_cpu_shares(["a100-80gb/1g.10gb", "a100-80gb/7g.80gb"], cpus_per_gpu=1.4)
    assert [b.actor_options["num_cpus"] for b in binds] == pytest.approx([0.2, 1.4])
    assert resource_name("h200-141gb/2g.35gb") == "mig:2g.35gb"


def test_unknown_profile_is_refused():
    bad = "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c)\n  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef)\n"
    with pytest.raises(KeyError, match="no MIG profile '3g.20gb'"):
        parse_nvidia_smi_list(bad)


def test_bind_groups_binds_slices_only_to_instances_or_cpu_shares():
    devices = [None, "a100-80gb/3g.40gb", "a100-80gb", "a100-80gb/1g.10gb"]
    on_gpu = bind_groups(devices, parse_nvidia_smi_list(SMI), cpu_per_device=0.7)
    assert on_gpu[0] is None and on_gpu[2] is None
    assert on_gpu[1].bundle == {"mig:3g.40gb": 1.0} and on_gpu[1].env_vars == {"CUDA_VISIBLE_DEVICES": on_gpu[1].uuid}
    assert on_gpu[3].uuid.startswith("MIG-11111111")
    on_cpu = bind_groups(devices, None, cpu_per_device=0.7)
    assert on_cpu[1].bundle == {"CPU": pytest.approx(0.3)} and on_cpu[3].bundle == {"CPU": pytest.approx(0.1)}
    assert bind_groups(["a100-80gb", None], None, 0.7) == [None, None]


def test_list_instances_runs_nvidia_smi_and_names_a_failure():
    import subprocess

    ok = lambda *a, **k: subprocess.CompletedProcess(a, 0, SMI, "")  # noqa: E731
    assert len(list_instances(ok)) == 4

    def missing(*a, **k):
        raise FileNotFoundError("nvidia-smi")

    with pytest.raises(RuntimeError, match="nvidia-smi -L failed"):
        list_instances(missing)


def test_mesh_group_takes_its_bundle_and_actor_options_from_the_binding():
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement
    from alpa_serve_like.runtime.mesh_group import MeshGroup, MeshGroupError
    from alpa_serve_like.runtime.options import RuntimeOptions

    one = GroupPlacement(ParallelConfig(1, 1, 1), ("bert-tiny-0",))
    opts = RuntimeOptions(cpu_per_device=0.7)
    binding = bind_groups(["a100-80gb/3g.40gb"], parse_nvidia_smi_list(SMI), 0.7)[0]
    mig_group = MeshGroup(0, one, opts, use_gpu=True, owner="t", binding=binding)
    assert mig_group.bundle() == {"mig:3g.40gb": 1.0, "CPU": 0.7}
    assert mig_group.actor_options() == {"num_cpus": 0.7, "num_gpus": 0.0, "resources": {"mig:3g.40gb": 1.0},
                                         "runtime_env": {"env_vars": {"CUDA_VISIBLE_DEVICES": binding.uuid}}}
    share = bind_groups(["a100-80gb/1g.10gb"], None, 0.7)[0]
    cpu_group = MeshGroup(1, one, opts, use_gpu=False, owner="t", binding=share)
    assert cpu_group.actor_options()["num_cpus"] == pytest.approx(0.1) and "resources" not in cpu_group.actor_options()
    whole = MeshGroup(2, one, opts, use_gpu=True, owner="t")
    assert whole.actor_options() == {"num_cpus": 0.7, "num_gpus": 1.0}
    with pytest.raises(MeshGroupError, match="has 2 devices"):
        MeshGroup(3, GroupPlacement(ParallelConfig(1, 1, 2), ("bert-tiny-0",)), opts, use_gpu=True, owner="t",
                  binding=binding)
