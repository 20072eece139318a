"""Mesh groups on a fake multi-node cluster with fake GPUs: each group packs onto one node, and an
op=2 (tensor-parallel) group computes what the op=1 groups compute."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_each_mesh_group_lands_whole_on_a_gpu_node_and_a_third_does_not_fit():
    # A separate process: this test needs its own (multi-node) Ray, the session has a local one.
    script = Path(__file__).with_name("mesh_nodes_script.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=540)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])

    assert out["auto_uses_gpu"] is True  # device=auto picks GPU bundles on a cluster with GPUs
    nodes = [{d["node"] for d in group} for group in out["groups"]]
    assert all(len(n) == 1 for n in nodes), "STRICT_PACK keeps each group's devices on one node"
    assert {n.pop() for n in nodes} == set(out["workers"]), "two 2-GPU groups need both GPU nodes"
    for group in out["groups"]:
        assert [d["stage"] for d in group] == [0, 1]
        gpus = [tuple(d["gpus"]) for d in group]
        assert all(len(g) == 1 for g in gpus) and len(set(gpus)) == 2, "one GPU per stage"
    assert out["outputs"][0] == out["outputs"][1], "both replicas hold the same weights"
    assert "could not be placed" in out["third"] and "GPUs" in out["third"]
    assert len(out["op2_nodes"]) == 1
    op2, op1 = out["op2_output"][0], out["outputs"][0][0]
    assert abs(op2["norm"] - op1["norm"]) < 1e-3 and all(abs(a - b) < 1e-3 for a, b in zip(op2["head"], op1["head"]))
