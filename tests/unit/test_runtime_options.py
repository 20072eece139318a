"""RuntimeOptions parsing, model instance names, and the serve command's argument mapping."""
import argparse
from pathlib import Path

import pytest

from alpa_serve_like.cli import serve_cmd
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.instances import UnknownModelError, base_model_name, instance_seed, instance_spec
from alpa_serve_like.runtime.options import RuntimeOptions, RuntimeOptionsError
from alpa_serve_like.serve import check_servable


def test_options_from_serve_run_strings_are_typed():
    opts = RuntimeOptions.from_args({"max_batch_size": "4", "admission": "false", "default_slo_s": "0.5",
                                     "device": "cpu"})
    assert (opts.scheduling.max_batch_size, opts.scheduling.admission, opts.default_slo_s, opts.device) == (
        4, False, 0.5, "cpu")
    assert opts.scheduling.drop_doomed_at_dispatch  # the runtime's default, kept when other fields are given
    assert RuntimeOptions(**opts.to_dict()) == opts


def test_runtime_options_hold_one_scheduling_value_not_copies_of_its_fields():
    from dataclasses import fields

    from alpa_serve_like.scheduling import SchedulingOptions

    shared = {f.name for f in fields(SchedulingOptions)}
    assert not shared & {f.name for f in fields(RuntimeOptions)}
    sched = SchedulingOptions(routing="shortest_queue", max_batch_size=2)
    assert RuntimeOptions(scheduling=sched).scheduling is sched
    assert RuntimeOptions.from_args({"routing": "shortest_queue", "max_batch_size": 2,
                                     "drop_doomed_at_dispatch": "false"}).scheduling == sched
    nested = RuntimeOptions.from_args({"scheduling": {"routing": "shortest_queue", "max_batch_size": "2"},
                                       "drop_doomed_at_dispatch": False})
    assert nested.scheduling == sched


@pytest.mark.parametrize("args, fragment", [
    ({"max_batch": "4"}, "unknown runtime options ['max_batch']"),
    ({"max_batch_size": "four"}, "max_batch_size='four': expected int"),
    ({"device": "tpu"}, "device must be auto, cpu or gpu"),
    ({"max_batch_size": "0"}, "max_batch_size must be an int >= 1"),
    ({"routing": "random"}, "unknown routing policy 'random'"),
    ({"correction_alpha": "2"}, "correction_alpha must be in [0, 1]"),
    ({"correction_half_life_s": "0"}, "correction_half_life_s must be > 0 seconds"),
    ({"stage_transport": "grpc"}, "stage_transport must be one of socket, actor_call, compiled_graph"),
])
def test_bad_options_fail_with_a_message_naming_the_option(args, fragment):
    with pytest.raises(RuntimeOptionsError, match=None) as err:
        RuntimeOptions.from_args(args)
    assert fragment in str(err.value)


def test_instance_names_map_to_zoo_models():
    assert base_model_name("bert-tiny-3") == "bert-tiny"
    assert base_model_name("bert-tiny") == "bert-tiny"
    assert instance_spec("gpt-tiny-12").name == "gpt-tiny"
    with pytest.raises(UnknownModelError, match="not in the zoo"):
        instance_spec("resnet-0")
    assert instance_seed("bert-tiny-0", 0) == instance_seed("bert-tiny-0", 0)
    assert instance_seed("bert-tiny-0", 0) != instance_seed("bert-tiny-1", 0)
    assert instance_seed("bert-tiny-0", 0) != instance_seed("bert-tiny-0", 1)


def test_check_servable_refuses_unknown_models_and_empty_groups():
    ok = Placement((GroupPlacement(ParallelConfig(1, 2, 2), ("bert-tiny-0",)),))
    check_servable(ok)
    with pytest.raises(UnknownModelError):
        check_servable(Placement((GroupPlacement(ParallelConfig(), ("llama-0",)),)))
    with pytest.raises(ValueError, match="hosts no model"):
        check_servable(Placement((GroupPlacement(ParallelConfig(), ()),)))


def test_serve_command_maps_flags_to_app_arguments():
    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    args = parser.parse_args(["--placement", "p.json", "--max-batch-size", "4", "--option", "default_slo_s=0.2"])
    assert serve_cmd.app_arguments(args) == {"max_batch_size": 4, "device": "auto", "placement": "p.json",
                                             "default_slo_s": "0.2"}
    assert args.host == "127.0.0.1"


def test_serve_http_options_bound_requests_and_idle_connections_on_loopback():
    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    assert serve_cmd.http_options(parser.parse_args([])) == {
        "host": "127.0.0.1", "port": 8000, "request_timeout_s": 60.0, "keep_alive_timeout_s": 5}
    given = parser.parse_args(["--request-timeout-s", "2.5", "--keep-alive-timeout-s", "1"])
    assert serve_cmd.http_options(given)["request_timeout_s"] == 2.5
    with pytest.raises(SystemExit, match="request-timeout-s"):
        serve_cmd.http_options(parser.parse_args(["--request-timeout-s", "0"]))


def test_the_serve_config_file_sets_the_same_http_options_and_validates():
    import yaml
    from ray.serve.schema import ServeDeploySchema

    path = Path(__file__).resolve().parents[2] / "configs" / "serve_config.yaml"
    config = ServeDeploySchema.model_validate(yaml.safe_load(path.read_text()))
    http = config.http_options
    assert (http.host, http.request_timeout_s, http.keep_alive_timeout_s) == ("127.0.0.1", 60, 5)


def test_checkpoint_option_takes_a_path_model_pairs_or_a_mapping(tmp_path):
    from alpa_serve_like.runtime.options import check_checkpoint_files

    every = RuntimeOptions.from_args({"checkpoint": "w.pt"})
    assert every.checkpoint == (("*", str(Path("w.pt").resolve())),)
    assert every.checkpoint_for("bert-mini-3") == str(Path("w.pt").resolve())
    pairs = RuntimeOptions.from_args({"checkpoint": f"bert-mini={tmp_path}/a.pt, gpt-tiny-0={tmp_path}/b.pt",
                                      "checkpoint_naming": "hf-bert"})
    assert pairs.checkpoint_for("bert-mini-1") == f"{tmp_path}/a.pt"
    assert pairs.checkpoint_for("gpt-tiny-0") == f"{tmp_path}/b.pt"
    assert pairs.checkpoint_for("gpt-tiny-1") == ""  # named nowhere: random weights
    mixed = RuntimeOptions(checkpoint={"*": "/c/all.pt", "bert-mini-0": "/c/zero.pt"})
    assert (mixed.checkpoint_for("bert-mini-0"), mixed.checkpoint_for("bert-mini-1")) == ("/c/zero.pt", "/c/all.pt")
    assert RuntimeOptions(**mixed.to_dict()) == mixed
    assert RuntimeOptions().checkpoint == () and RuntimeOptions().checkpoint_for("bert-mini-0") == ""
    with pytest.raises(RuntimeOptionsError, match="names model 'bert-mini' twice"):
        RuntimeOptions.from_args({"checkpoint": "bert-mini=a.pt,bert-mini=b.pt"})
    with pytest.raises(RuntimeOptionsError, match="checkpoint_naming must be one of"):
        RuntimeOptions(checkpoint_naming="hf-t5")
    with pytest.raises(FileNotFoundError, match=f"bert-mini: {tmp_path}/a.pt"):
        check_checkpoint_files(pairs)
    (tmp_path / "a.pt").write_bytes(b"")
    (tmp_path / "b.pt").write_bytes(b"")
    check_checkpoint_files(pairs)


def test_checkpoint_namings_match_the_model_layer():
    from alpa_serve_like.models.checkpoint import NAMINGS
    from alpa_serve_like.runtime.options import CHECKPOINT_NAMINGS

    assert CHECKPOINT_NAMINGS == NAMINGS


def test_serve_command_passes_checkpoints():
    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    args = parser.parse_args(["--placement", "p.json", "--checkpoint", "w.pt", "--checkpoint", "gpt-tiny=g.pt"])
    out = serve_cmd.app_arguments(args)
    assert (out["checkpoint"], out["checkpoint_naming"]) == ("w.pt,gpt-tiny=g.pt", "auto")
    assert RuntimeOptions.from_args({"checkpoint": out["checkpoint"]}).checkpoint_for("gpt-tiny-2").endswith("/g.pt")


def test_serve_controller_options_carry_the_proxy_patience_and_a_users_own_values_win():
    from ray.serve.config import ControllerOptions

    from alpa_serve_like.runtime.local_ray import SLOW_MACHINE_SERVE_ENV, serve_controller_options

    out = serve_controller_options({"RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "90"})
    env = ControllerOptions(**out).runtime_env["env_vars"]  # what serve.start validates them with
    assert env["RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S"] == "90"
    assert set(env) == set(SLOW_MACHINE_SERVE_ENV)
    assert env["RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S"] == SLOW_MACHINE_SERVE_ENV["RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S"]


def test_ingress_is_a_checked_choice_with_fused_as_the_default():
    assert RuntimeOptions().ingress == "fused"
    assert RuntimeOptions.from_args({"ingress": "fused", "ingress_replicas": "2"}).ingress_replicas == 2
    with pytest.raises(RuntimeOptionsError, match="ingress must be separate or fused"):
        RuntimeOptions.from_args({"ingress": "both"})
    with pytest.raises(RuntimeOptionsError, match="ingress_replicas must be >= 1"):
        RuntimeOptions(ingress_replicas=0)


def test_build_app_refuses_a_checkpoint_key_that_names_no_served_model(tmp_path):
    from alpa_serve_like.serve import build_app

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"")
    plan = str(Path(__file__).resolve().parents[2] / "examples" / "placement_tiny.json")
    with pytest.raises(RuntimeOptionsError, match="checkpoint names 'bert-mini', which the placement does not serve "
                                                  r"\(known: bert-tiny, bert-tiny-0, bert-tiny-1, gpt-tiny, gpt-tiny-0\)"):
        build_app({"placement": plan, "device": "cpu", "checkpoint": f"bert-mini={weights}"})
    for key in ("*", "bert-tiny", "gpt-tiny-0"):  # every model, a base model, an instance
        build_app({"placement": plan, "device": "cpu", "checkpoint": f"{key}={weights}"})


def test_build_app_says_when_srpt_overrides_the_routing(capsys):
    from alpa_serve_like.serve import build_app

    plan = str(Path(__file__).resolve().parents[2] / "examples" / "placement_tiny.json")
    build_app({"placement": plan, "device": "cpu", "discipline": "srpt", "routing": "last_stage_free"})
    assert ("note: routing last_stage_free is overridden under srpt: requests go to the group with the fewest "
            "outstanding requests (shortest_queue)") in capsys.readouterr().err
    build_app({"placement": plan, "device": "cpu", "routing": "last_stage_free"})
    assert "overridden" not in capsys.readouterr().err
