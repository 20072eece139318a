"""One Ray instance for the whole integration session, and a Serve HTTP proxy on a free port.

Ray is started by ``runtime.local_ray.start_local_ray``: a private instance that never joins (or
advertises itself to) another Ray on this machine, with a few logical CPUs and a small object store.
"""
import socket

import pytest

from alpa_serve_like.runtime.local_ray import allow_slow_serve_startup

# Before any Ray starts, and inherited by the scripts and CLI commands the tests run: a busy CI
# machine must not decide whether Serve's proxy comes up.
allow_slow_serve_startup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_session():
    from alpa_serve_like.runtime.local_ray import start_local_ray

    ray = start_local_ray(num_cpus=4, namespace="alpa_serve_like_tests")
    yield ray
    try:
        from ray import serve

        serve.shutdown()
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def serve_url(ray_session):
    """Base URL of Serve's HTTP proxy (loopback, a free port) for this session."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    return f"http://127.0.0.1:{port}"
