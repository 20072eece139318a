"""A memory budget above the device's own memory is refused naming both (``place --device v100-16gb
--memory-budget-gib 100`` wrote a plan of 50 GiB per 16 GiB V100 without a word); a device whose
memory is unknown takes any budget."""
from __future__ import annotations

import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.hardware import GiB, cluster_spec


def test_budget_above_the_device_memory_is_refused():
    with pytest.raises(ValueError, match=r"memory budget 100 GiB is more than v100-16gb's 16 GiB"):
        cluster_spec(2, "v100-16gb", memory_budget_gib=100)
    assert cluster_spec(2, "v100-16gb", memory_budget_gib=16).memory_budget_bytes == 16 * GiB
    assert cluster_spec(2, "test-gpu", memory_budget_gib=1000).memory_budget_bytes == 1000 * GiB


def test_place_and_simulate_refuse_it(tmp_path, capsys):
    out = tmp_path / "p.json"
    argv = ["place", "--policy", "sr-greedy", "--num-devices", "2", "--models", "bert-1.3b:2", "--duration", "5",
            "--out", str(out)]
    assert main([*argv, "--memory-budget-gib", "100"]) == 2
    assert "more than v100-16gb's 16 GiB" in capsys.readouterr().err and not out.exists()
    assert main(argv) == 0
    w = tmp_path / "w.npz"
    assert main(["trace", "generate", "--models", "bert-1.3b-0,bert-1.3b-1", "--rate", "1", "--duration", "5",
                 "--out", str(w)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--placement", str(out), "--workload", str(w), "--memory-budget-gib", "100"]) == 2
    assert "more than v100-16gb's 16 GiB" in capsys.readouterr().err


def test_simulate_refuses_a_hand_written_plan_budget_above_the_device(tmp_path, capsys):
    import json

    plan = tmp_path / "p.json"
    plan.write_text(json.dumps({"version": 2, "device": "v100-16gb", "memory_budget_bytes": 100 * GiB,
                                "groups": [{"op": 1, "pp": 1, "models": ["bert-1.3b-0"]}]}))
    w = tmp_path / "w.npz"
    assert main(["trace", "generate", "--models", "bert-1.3b-0", "--rate", "1", "--duration", "5", "--out", str(w)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--placement", str(plan), "--workload", str(w)]) == 2
    assert "the plan's 'memory_budget_bytes': memory budget 100 GiB is more than" in capsys.readouterr().err
