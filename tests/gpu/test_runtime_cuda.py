"""The runtime's CUDA path: stage actors on one GPU (pp=1, and pp=2 as two stages sharing it).

Runs only where torch sees CUDA. Each stage actor asks for half a GPU so both stages of the pp=2
group fit on one device; outputs must match the CPU model built from the same seed.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("pp", [1, 2])
def test_stage_actors_run_on_the_gpu_and_match_the_cpu_model(pp):
    import ray

    from alpa_serve_like.models import build_model
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement
    from alpa_serve_like.core.instances import instance_seed
    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.runtime.mesh_group import MeshGroup
    from alpa_serve_like.runtime.options import RuntimeOptions
    from alpa_serve_like.core.zoo import get_spec

    started = not ray.is_initialized()  # an integration session may already run one
    if started:
        start_local_ray(num_cpus=None, object_store_bytes=None)
    try:
        options = RuntimeOptions(device="gpu", gpu_per_device=0.5)
        group = MeshGroup(0, GroupPlacement(ParallelConfig(1, 1, pp), ("bert-mini-0",)), options, use_gpu=True)
        info = group.start()
        assert [i["device"] for i in info] == ["cuda"] * pp
        tokens = np.random.default_rng(0).integers(0, 1024, (2, 64))
        out = ray.get(group.submit("bert-mini-0", tokens).last, timeout=120)
        group.shutdown()
    finally:
        if started:
            ray.shutdown()
    reference = build_model(get_spec("bert-mini"), seed=instance_seed("bert-mini-0", 0))
    with torch.inference_mode():
        expected = reference(torch.from_numpy(tokens)).norm(dim=-1).tolist()
    assert [o["norm"] for o in out["summary"]] == pytest.approx(expected, rel=1e-3)
    assert len(out["timings"]) == pp
