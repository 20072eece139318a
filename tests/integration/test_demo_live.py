"""``alpa-serve-like demo`` end to end in its own process: local Ray, Serve, replay, shutdown."""
import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_serves_and_compares_with_the_simulator(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "alpa_serve_like", "demo", "--out", str(tmp_path),
                           "--duration", "10", "--no-cluster-scale"], capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    for policy in ("sr-greedy", "mp-search"):
        entry = summary["policies"][policy]
        assert 0.0 <= entry["live_attainment"] <= 1.0 and entry["live"]["served"] > 0
        assert 0.0 <= entry["sim_attainment"] <= 1.0
        # the "as served" simulation used what the warm-up measured on this machine
        assert entry["calibration"]["samples"] > 0 and entry["calibration"]["stage_compute_ms"]["bert-mini"]
        assert entry["live_slo_ms"] == summary["policies"]["sr-greedy"]["live_slo_ms"] > 0
        assert (tmp_path / f"requests_{policy}.tsv").exists()
    assert (tmp_path / "demo.png").exists()
    assert "SLO attainment" in proc.stdout and "shutting down Serve and Ray" in proc.stdout
