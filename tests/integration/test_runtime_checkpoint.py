"""Real checkpoints in the stage actors: each actor loads its stage's layers and its op rank's shard
of a file the test writes, and computes what the model layer computes from the same file; a file
that does not fit fails the group's start with the file and the missing tensors named."""
import json
import urllib.request

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # generous: a starved machine deploys Serve apps slowly

MODEL = "bert-tiny-0"
TOKENS = [[3, 14, 15, 92, 65, 35, 89, 79], [2, 71, 82, 81, 82, 84, 59, 4]]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(path, the model layer's summary of TOKENS under the checkpoint's weights)."""
    from alpa_serve_like.core.instances import instance_spec
    from alpa_serve_like.models import build_stage
    from alpa_serve_like.models.checkpoint import load_checkpoint
    from alpa_serve_like.runtime.stage_worker import summarize

    spec = instance_spec(MODEL)
    path = tmp_path_factory.mktemp("ckpt") / "bert_tiny.pt"
    torch.save(build_stage(spec, 1, 0, seed=1234).state_dict(), path)
    whole = build_stage(spec, 1, 0, seed=0, checkpoint=load_checkpoint(path, spec))
    with torch.inference_mode():
        want = summarize(whole(torch.tensor(TOKENS)))
    return path, want


def _same(got, want):
    for g, w in zip(got, want, strict=True):
        assert g["norm"] == pytest.approx(w["norm"], rel=1e-4)
        assert g["head"] == pytest.approx(w["head"], rel=1e-4, abs=1e-4)


def _group(op, pp, options):
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement
    from alpa_serve_like.runtime.mesh_group import MeshGroup

    return MeshGroup(0, GroupPlacement(ParallelConfig(1, op, pp), (MODEL,)), options, use_gpu=False)


def test_stage_actors_load_their_shard_of_the_checkpoint(ray_session, checkpoint):
    from alpa_serve_like.runtime.options import RuntimeOptions

    path, want = checkpoint
    group = _group(2, 2, RuntimeOptions(device="cpu", checkpoint=str(path)))
    try:
        info = group.start()
        assert all(i["checkpoints"] == {MODEL: str(path)} for i in info)
        out = ray_session.get(group.submit(MODEL, torch.tensor(TOKENS)).last, timeout=60)
        _same(out["summary"], want)
    finally:
        group.shutdown()
    random = _group(1, 1, RuntimeOptions(device="cpu"))  # the default stays random weights
    try:
        random.start()
        out = ray_session.get(random.submit(MODEL, torch.tensor(TOKENS)).last, timeout=60)
        # (norms are all sqrt(hidden): the last stage ends with a parameter-free LayerNorm)
        assert out["summary"][0]["head"] != pytest.approx(want[0]["head"], rel=1e-3, abs=1e-3)
    finally:
        random.shutdown()


def test_a_checkpoint_that_does_not_fit_names_the_file_and_missing_tensors(ray_session, checkpoint, tmp_path):
    from alpa_serve_like.runtime.mesh_group import MeshGroupError
    from alpa_serve_like.runtime.options import RuntimeOptions

    state = torch.load(checkpoint[0], weights_only=True)
    del state["layers.1.ffn.fc2.weight"], state["layers.1.norm2.bias"]
    bad = tmp_path / "short.pt"
    torch.save(state, bad)
    group = _group(1, 2, RuntimeOptions(device="cpu", checkpoint={MODEL: str(bad)}))
    with pytest.raises(MeshGroupError) as err:
        group.start()
    message = str(err.value)
    assert str(bad) in message and "missing 2" in message
    assert "layers.1.ffn.fc2.weight" in message and "layers.1.norm2.bias" in message
    assert group.actors == []


def test_serve_app_with_checkpoint_answers_with_its_weights(serve_url, checkpoint, tmp_path):
    from ray import serve

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.serve import build_app

    path, want = checkpoint
    plan = tmp_path / "plan.json"
    Placement((GroupPlacement(ParallelConfig(1, 1, 2), (MODEL,)),)).save(plan)
    serve.run(build_app({"placement": str(plan), "device": "cpu", "checkpoint": f"bert-tiny={path}"}),
              name="ckpt", route_prefix="/ckpt")
    try:
        from alpa_serve_like.client.replay import wait_until_ready

        wait_until_ready(f"{serve_url}/ckpt", [MODEL], timeout_s=120.0)
        got = []
        for tokens in TOKENS:
            req = urllib.request.Request(f"{serve_url}/ckpt/v1/models/{MODEL}/infer", method="POST",
                                         data=json.dumps({"input": tokens, "slo_ms": 60000}).encode())
            with urllib.request.urlopen(req, timeout=120) as resp:
                got.append(json.loads(resp.read())["output"])
        _same(got, want)
    finally:
        serve.delete("ckpt")
