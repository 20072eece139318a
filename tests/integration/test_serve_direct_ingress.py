"""Serve's direct-ingress front end (``--serve-proxy direct``) carries our app: the flag set by
``start_local_ray(serve_proxy=...)`` reaches Serve, the ingress replica answers on its own port,
and Serve's own shedding still answers 503 with ``Retry-After``. The HAProxy gate in front of that
port (``--serve-proxy gate``) sheds a burst itself."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


def test_direct_ingress_serves_and_sheds_on_the_replicas_own_port():
    # A separate process: the flag must be in the environment before Ray starts, and the session's
    # shared Ray started without it. Direct mode, not HAProxy: HAProxy takes fixed ports (8404, 9101).
    cmd = [sys.executable, str(ROOT / "benchmarks" / "check_serve_proxy.py"), "--serve-proxy", "direct",
           "--sequential", "3", "--burst", "20", "--option", "max_ongoing_requests=1",
           "--option", "max_queued_requests=1", "--option", "retry_after_s=2"]
    # Without RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Python starts, Serve listed the replica at
    # the machine's external address while it listened on loopback (connection refused).
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=280, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    port = int(out["url"].rsplit(":", 1)[1])
    assert 30000 <= port < 31000, f"not the replica's direct-ingress port range: {out['url']}"
    assert out["stats_status"] == 200 and out["sequential_last_status"] == 200
    assert out["burst"].get("503 Retry-After=2", 0) >= 10, out["burst"]


def test_the_gate_sheds_a_burst_itself_with_retry_after():
    cmd = [sys.executable, str(ROOT / "benchmarks" / "check_serve_proxy.py"), "--serve-proxy", "gate",
           "--sequential", "3", "--burst", "20", "--gate", "max_conn=1", "--gate", "max_queue=1",
           "--option", "retry_after_s=2"]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=280, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert out["stats_status"] == 200 and out["sequential_last_status"] == 200
    # one request in the replica, one queued: the gate answers the rest of the 20 at once
    assert out["burst_reasons"].get("gate_full", 0) >= 10, out["burst_reasons"]
    assert out["burst"].get("503 Retry-After=2", 0) >= 10, out["burst"]
