"""Groups bound to MIG instances on a fake cluster: each actor sees its own instance, and Ray's
custom resource keeps a second group off a taken instance."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]


def test_each_group_sees_only_its_mig_instance():
    script = Path(__file__).with_name("mig_binding_script.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=200)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["seen"] == out["uuids"]
    assert len(set(out["uuids"])) == 3
    assert out["second_3g_ran"] is False


def test_mesh_groups_start_on_their_mig_instances_and_cpu_shares():
    script = Path(__file__).with_name("mig_mesh_group_script.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=220)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["seen"] == out["uuids"] and len(set(out["uuids"])) == 2 and out["served"]
    assert "mig:3g.40gb" in out["second_3g"] and "could not be placed" in out["second_3g"]
    assert out["cpu_bundle"] == {"CPU": pytest.approx(0.3)} and out["cpu_seen"] == ""
