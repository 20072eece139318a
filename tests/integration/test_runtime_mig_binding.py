"""Groups bound to MIG instances on a fake cluster: each actor (plain, then a MeshGroup's stage
actor) sees its own instance, Ray's custom resource keeps a second group off a taken instance, and
on CPU a slice group's bundle is its share."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]


def test_each_group_sees_only_its_mig_instance():
    script = Path(__file__).with_name("mig_binding_script.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=400)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["seen"] == out["uuids"]
    assert len(set(out["uuids"])) == 3
    assert out["second_3g_ran"] is False
    mesh = out["mesh"]  # the same through MeshGroup
    assert mesh["seen"] == mesh["uuids"] and len(set(mesh["uuids"])) == 2 and mesh["served"]
    assert "mig:3g.40gb" in mesh["second_3g"] and "could not be placed" in mesh["second_3g"]
    assert mesh["cpu_bundle"] == {"CPU": pytest.approx(0.3)} and mesh["cpu_seen"] == ""

