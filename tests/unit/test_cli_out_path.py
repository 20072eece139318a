"""An ``--out`` in a folder that does not exist is refused before the command works, naming the
path: ``simulate``, ``compare-policies``, ``place``, ``profile`` and ``replay`` used to run to the
end and then fail on the write (losing the run), ``profile`` naming its temporary file."""
from __future__ import annotations

import json

import pytest
from builders import write_cli_inputs

from alpa_serve_like.cli.main import main

PROBLEM = ["--num-devices", "2", "--device", "test-gpu", "--memory-budget-gib", "1", "--models", "bert-x:2"]


@pytest.fixture()
def inputs(tmp_path):
    paths = write_cli_inputs(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps({"version": 2, "device": "test-gpu", "groups": [
        {"op": 1, "pp": 1, "models": ["bert-x-0", "bert-x-1"]}]}))
    return {"db": paths["db"], "w": paths["workload"], "p": str(tmp_path / "p.json")}


def _commands(i, out):
    return {
        "simulate": ["simulate", "--placement", i["p"], "--workload", i["w"], "--db", i["db"], "--out", out],
        "place": ["place", "--policy", "sr-greedy", *PROBLEM, "--db", i["db"], "--workload", i["w"], "--out", out],
        "compare": ["compare-policies", "--policies", "sr-greedy", *PROBLEM, "--db", i["db"], "--duration", "5",
                    "--out", out],
        "profile": ["profile", "--models", "bert-tiny", "--device", "cpu", "--out", out],
        "replay": ["replay", "--url", "http://127.0.0.1:9", "--workload", i["w"], "--ready-timeout", "0", "--out", out],
    }


@pytest.mark.parametrize("command", ["simulate", "place", "compare", "profile", "replay"])
def test_out_in_a_missing_folder_is_refused_first(inputs, tmp_path, capsys, command):
    out = str(tmp_path / "no" / "such" / "file.out")
    assert main(_commands(inputs, out)[command]) == 2
    captured = capsys.readouterr()
    assert f"--out {out}: folder {tmp_path / 'no' / 'such'} does not exist" in captured.err
    assert "attainment" not in captured.out.lower() and ".tmp" not in captured.err  # refused before any work


def test_out_that_is_a_folder_is_refused(inputs, tmp_path, capsys):
    assert main(_commands(inputs, str(tmp_path))["simulate"]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err
