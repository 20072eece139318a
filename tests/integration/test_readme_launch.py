"""The README's launch block, run as written: Ray on loopback, ``serve run``, ``serve status``,
then ``serve deploy`` of the shipped config and ``ray stop``.

It runs Ray as separate processes on Ray's default ports (6379, 8265) and Serve on 8000, exactly as
a user would; it is skipped, saying why, when something else already holds those ports.
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 480  # generous: on a 2-core machine loaded by other jobs the first deploy took over 4 min
STOP_S = 300  # how long Ctrl-C may take to stop serve run (graceful drain, Ray shutdown) on a loaded machine


def launch_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- launch-commands -->\n```\n(.*?)```", text, re.S)
    assert match, "README.md has no fenced block after <!-- launch-commands -->"
    return [line for line in match.group(1).splitlines() if line.strip()]


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_healthy(url: str, deadline_s: float, proc=None) -> str:
    last = ""
    while time.monotonic() < deadline_s:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"serve run exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                last = resp.read().decode()
                if resp.status == 200:
                    return last
        except OSError as exc:
            last = str(exc)
        time.sleep(1.0)
    pytest.fail(f"{url} not healthy after {STARTUP_S} s (last: {last})")


def test_readme_launch_block_serves_and_stops(tmp_path):
    busy = [p for p in (6379, 8000, 8265) if port_busy(p)]
    if busy:
        pytest.skip(f"ports {busy} are in use on 127.0.0.1 (another Ray or server); the README block needs them")
    lines = launch_block()
    assert lines[0].startswith("export "), "the block's first line exports its environment"
    assert lines[-1].startswith("serve run "), "the block ends with serve run"
    env_line, setup, serve_run = lines[0], lines[1:-1], lines[-1]
    shell = f"set -e; cd {ROOT}; {env_line}; "
    # The user's environment, less any Ray setting of ours, plus Serve's start-up patience
    # (tests/integration/conftest.py) so a busy CI machine cannot decide the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") or k.startswith("RAY_SERVE_PROXY_")}

    def sh(cmd: str, timeout: float = 180) -> str:
        out = subprocess.run(["bash", "-c", shell + cmd], env=env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{cmd!r} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        return out.stdout + out.stderr

    server = None
    try:
        for cmd in setup:
            sh(cmd)
        log = open(tmp_path / "serve_run.log", "w")
        # SIGINT as a terminal gives it: a test run started in the background (``pytest &``, a CI
        # runner) passes SIGINT on as ignored, and serve run then never sees the Ctrl-C.
        server = subprocess.Popen(["bash", "-c", shell + "exec " + serve_run], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        health = wait_healthy("http://127.0.0.1:8000/health", time.monotonic() + STARTUP_S, server)
        assert '"status"' in health
        status = sh("serve status")
        assert "RUNNING" in status, status[-2000:]
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends
        stop_s = time.monotonic()
        # Generous, like STARTUP_S: Serve's shutdown takes ~4 s idle and under one CPU burner.
        server.wait(timeout=STOP_S)
        print(f"serve run stopped {time.monotonic() - stop_s:.1f} s after SIGINT")
        server = None
        sh("serve deploy configs/serve_config.yaml")
        wait_healthy("http://127.0.0.1:8000/health", time.monotonic() + STARTUP_S)
    finally:
        if server is not None:
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:  # it exited by itself; Ray must still be stopped below
                pass
        subprocess.run(["bash", "-c", shell + "ray stop --force"], env=env, capture_output=True, timeout=120)
    assert not port_busy(8000), "ray stop left Serve listening on 8000"
