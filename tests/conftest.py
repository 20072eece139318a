"""Shared pytest set-up. Tiny builders live in ``tests/builders.py`` (importable as ``builders``)."""
import os

import pytest

# Keep numba's on-disk cache out of the source tree during tests.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache"))


@pytest.fixture(autouse=True)
def _no_ray_outside_integration(request, monkeypatch):
    """Unit and simulator tests must not start Ray; only tests marked ``integration`` may."""
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("gpu"):
        return
    try:
        import ray
    except ImportError:
        return

    def _refuse(*args, **kwargs):
        raise RuntimeError("this test is not marked 'integration' and must not start Ray")

    monkeypatch.setattr(ray, "init", _refuse)
