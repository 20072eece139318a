"""Start a private Ray instance on this machine (demo, benchmarks, tests).

``address="local"`` always starts a new instance: it never joins, and is never joined by, another
Ray on the machine (several sessions may share one host). It listens on loopback only, without
dashboard or usage reporting. The runtime's actors ask for fractional CPUs, so a few logical CPUs
and a small object store run every placement a small machine can hold.
"""
from __future__ import annotations

import logging
import os

from alpa_serve_like.runtime.serve_proxy import ServeProxy, select_serve_proxy

DEFAULT_OBJECT_STORE_BYTES = 200 * 1024**2

SLOW_MACHINE_SERVE_ENV = {
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
    "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "60",
}
"""Serve's proxy must answer its first readiness check within 5 s and its health checks within
10 s (Ray 2.60 defaults), or Serve kills it. A starting proxy imports FastAPI and uvicorn; on a
small machine under load that alone can take longer, and then no app ever deploys. A user's own
environment still wins (``setdefault``)."""


def allow_slow_serve_startup(environ=os.environ) -> None:
    """Give Serve's proxy the patience a busy small machine needs (``SLOW_MACHINE_SERVE_ENV``)."""
    for name, value in SLOW_MACHINE_SERVE_ENV.items():
        environ.setdefault(name, value)


def serve_controller_options(environ=os.environ) -> dict:
    """Serve's ``controller_options`` that give its proxy ``SLOW_MACHINE_SERVE_ENV``'s patience (a
    value set in ``environ`` wins). Unlike environment variables, which reach Serve only through a
    Ray this process starts, these work on a Ray that is already running, as long as Serve is not
    (``serve.start`` ignores them, with a log line, when a Serve controller already runs)."""
    env = {name: environ.get(name, value) for name, value in SLOW_MACHINE_SERVE_ENV.items()}
    return {"runtime_env": {"env_vars": env}}


def serve_is_running() -> bool:
    """Whether this Ray cluster already runs a Serve controller (then ``serve.start``'s
    ``http_options`` and ``controller_options`` are not applied). Needs ``ray.init`` first."""
    import ray

    return any(a.get("name") == "SERVE_CONTROLLER_ACTOR" and a.get("namespace") == "serve"
               for a in ray.util.list_named_actors(all_namespaces=True))


def start_local_ray(
    num_cpus: int | None = 4,
    object_store_bytes: int | None = DEFAULT_OBJECT_STORE_BYTES,
    namespace: str | None = None,
    quiet: bool = True,
    serve_proxy: ServeProxy | None = None,
):
    """``ray.init`` a fresh local instance and return the ``ray`` module.

    ``num_cpus`` / ``object_store_bytes`` None: Ray's own defaults (all cores, a share of memory).
    ``quiet`` keeps workers' output and Ray's info logs off the driver's terminal.
    ``serve_proxy`` ("default", "haproxy", "direct"; ``runtime.serve_proxy``): the HTTP front end
    Serve will start in this instance; None leaves the environment's flags as they are.
    """
    if serve_proxy is not None:
        select_serve_proxy(serve_proxy)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    allow_slow_serve_startup()
    import ray

    kwargs = {"address": "local", "include_dashboard": False, "_node_ip_address": "127.0.0.1",
              "log_to_driver": not quiet}
    if num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    if object_store_bytes is not None:
        kwargs["object_store_memory"] = object_store_bytes
    if namespace is not None:
        kwargs["namespace"] = namespace
    if quiet:
        for name in ("ray", "ray.serve"):
            logging.getLogger(name).setLevel(logging.WARNING)
        kwargs["logging_level"] = logging.WARNING
    ray.init(**kwargs)
    return ray
