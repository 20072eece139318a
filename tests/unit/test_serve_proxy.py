"""The HTTP front-end choice (``runtime/serve_proxy.py``) reaches the flags Ray Serve reads."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alpa_serve_like.runtime.serve_proxy import (MIN_DRAINING_ENV, SERVE_PROXIES, select_serve_proxy,
                                                  serve_proxy_env)

# Serve's processes read the flags from their environment when its constants module is imported.
# A child process stands in for them without starting Ray: it selects each choice in its own
# environment and reloads that module, so one interpreter start covers all four.
_READ_FLAGS = """
import importlib
from ray.serve._private import constants as c
from alpa_serve_like.runtime.serve_proxy import SERVE_PROXIES, select_serve_proxy
for proxy in SERVE_PROXIES:
    select_serve_proxy(proxy)
    importlib.reload(c)
    print(proxy, int(c.RAY_SERVE_ENABLE_HA_PROXY), int(c.RAY_SERVE_ENABLE_DIRECT_INGRESS),
          c.RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S)
"""


def test_each_choice_sets_only_its_flag_and_clears_the_other():
    env = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "OTHER": "x"}  # left over in the shell
    select_serve_proxy("direct", env)
    assert env == {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1", "OTHER": "x"}
    select_serve_proxy("haproxy", env)
    assert env == {"RAY_SERVE_ENABLE_HA_PROXY": "1", "OTHER": "x"}
    select_serve_proxy("default", env)
    assert env == {"OTHER": "x"}


def test_the_gate_shortens_the_drain_of_stopping_replicas_unless_the_caller_set_it():
    env = {}
    select_serve_proxy("gate", env)
    assert env == {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1", MIN_DRAINING_ENV: "3"}
    select_serve_proxy("direct", env)  # left alone: only the flags that pick a front end are cleared
    assert env[MIN_DRAINING_ENV] == "3"
    env = {MIN_DRAINING_ENV: "20"}  # the caller's choice (an outside load balancer in front)
    select_serve_proxy("gate", env)
    assert env[MIN_DRAINING_ENV] == "20"
    for proxy in ("default", "haproxy", "direct"):
        env = {}
        select_serve_proxy(proxy, env)
        assert MIN_DRAINING_ENV not in env


def test_unknown_choice_names_the_known_ones():
    with pytest.raises(ValueError, match="haproxy"):
        serve_proxy_env("nginx")


def test_serve_reads_the_flags_we_set():
    # HAProxy implies direct ingress in Serve: it forwards to the port the ingress replica opens.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAY_SERVE_ENABLE_") and k != MIN_DRAINING_ENV}
    out = subprocess.run([sys.executable, "-c", _READ_FLAGS], env=env, capture_output=True, text=True, check=True)
    # the gate (ours, runtime.haproxy_gate) forwards to the same port as direct ingress
    # and a stopping replica drains 3 s behind the gate, Ray's 30 s otherwise
    assert out.stdout.splitlines()[-4:] == ["default 0 0 30.0", "haproxy 1 1 30.0", "direct 0 1 30.0", "gate 0 1 3.0"]


def test_choices_are_the_literal():
    assert SERVE_PROXIES == ("default", "haproxy", "direct", "gate")
