"""``place`` and ``compare-policies`` with ``--workload`` train on the file's requests, so the
synthetic-traffic flags (``--rate``, ``--cv``, ``--duration``, ``--split``, ``--alpha``,
``--slo-scale``) cannot act: giving one is refused by name instead of being ignored (a user who
asked for ``--slo-scale 2`` got the file's SLOs and a plan recording them without a word)."""
from __future__ import annotations

import numpy as np
import pytest
from builders import write_cli_inputs

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.trace.workload_io import save_workload

PLACE = ["--num-devices", "2", "--device", "test-gpu", "--memory-budget-gib", "1", "--models", "bert-x:2"]


@pytest.fixture()
def files(tmp_path):
    paths = write_cli_inputs(tmp_path, arrival_s=[0.0, 0.5, 1.0, 2.0], model_id=[0, 1, 0, 1])
    return ["--db", paths["db"], "--workload", paths["workload"]]


@pytest.mark.parametrize("flag, value", [("--slo-scale", "2"), ("--rate", "100"), ("--cv", "1"),
                                         ("--duration", "60"), ("--split", "uniform"), ("--alpha", "1")])
def test_synthetic_flag_with_a_workload_is_refused(files, tmp_path, capsys, flag, value):
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "sr-greedy", *PLACE, *files, flag, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{flag} shapes synthetic traffic" in err and "--workload" in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert main(["compare-policies", "--policies", "sr-greedy", *PLACE, *files, flag, value]) == 2
    assert f"{flag} shapes synthetic traffic" in capsys.readouterr().err


def test_workload_alone_and_synthetic_flags_alone_still_run(files, tmp_path):
    assert main(["place", "--policy", "sr-greedy", *PLACE, *files, "--out", str(tmp_path / "a.json")]) == 0
    assert main(["place", "--policy", "sr-greedy", *PLACE, "--db", files[1], "--duration", "5", "--rate", "2",
                 "--slo-scale", "3", "--out", str(tmp_path / "b.json")]) == 0


@pytest.mark.parametrize("extra", [["--duration", "0"], ["--rate", "0"]])
def test_training_traffic_without_requests_is_refused(files, tmp_path, capsys, extra):
    # a plan "trained on" no request is arbitrary; it used to be written without a word
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "sr-greedy", *PLACE, "--db", files[1], *extra, "--out", str(out)]) == 2
    assert "training traffic holds no requests" in capsys.readouterr().err and not out.exists()


def test_training_workload_file_without_requests_is_refused(files, tmp_path, capsys):
    empty = tmp_path / "empty.npz"
    save_workload(Workload(np.array([]), np.array([], dtype=np.int32), np.array([]), ("bert-x-0",)), empty)
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "sr-greedy", *PLACE, "--db", files[1], "--workload", str(empty),
                 "--out", str(out)]) == 2
    assert "training traffic holds no requests" in capsys.readouterr().err and not out.exists()


def test_map_without_a_workload_is_refused(files, tmp_path, capsys):
    # synthetic traffic is already on --models; --map was ignored without a word
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "sr-greedy", *PLACE, "--db", files[1], "--duration", "5", "--map", "popularity",
                 "--out", str(out)]) == 2
    assert "--map maps a workload file's model names" in capsys.readouterr().err and not out.exists()
    assert main(["compare-policies", "--policies", "sr-greedy", *PLACE, "--db", files[1], "--duration", "5",
                 "--map", "popularity"]) == 2
    assert "--map maps a workload file's model names" in capsys.readouterr().err


def test_alpha_with_a_uniform_split_is_refused(files, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "sr-greedy", *PLACE, "--db", files[1], "--duration", "5", "--split", "uniform",
                 "--alpha", "2", "--out", str(out)]) == 2
    assert "--alpha applies to --split power_law" in capsys.readouterr().err and not out.exists()


def test_compare_refuses_a_policy_listed_twice(files, capsys):
    assert main(["compare-policies", "--policies", "sr-greedy,mp-search,sr-greedy", *PLACE, "--db", files[1],
                 "--duration", "5"]) == 2
    assert "--policies lists sr-greedy twice" in capsys.readouterr().err
