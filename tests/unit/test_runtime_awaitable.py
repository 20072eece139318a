"""``controller_state.awaitable``: an ObjectRef is awaited through ``future()``, not the
deprecated ``as_future()`` (Ray 2.60 warns on every call, once per batch in a live server)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import warnings

from alpa_serve_like.runtime.controller_state import awaitable


class _FakeRef:
    """Quacks like a Ray ObjectRef: ``future()`` gives a concurrent future; ``as_future`` is the
    deprecated path and must not be taken."""

    def __init__(self, value):
        self.value = value

    def future(self):
        done = concurrent.futures.Future()
        done.set_result(self.value)
        return done

    def as_future(self):
        warnings.warn("ref.as_future() is deprecated", DeprecationWarning)
        raise AssertionError("the deprecated as_future() was called")


def test_object_ref_is_awaited_through_future_without_deprecation_warning():
    async def main():
        return await asyncio.wait_for(awaitable(_FakeRef(7)), 1.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(main()) == 7


def test_coroutines_and_futures_pass_through():
    async def seven():
        return 7

    async def main():
        coro = seven()
        assert awaitable(coro) is coro
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(8)
        assert awaitable(fut) is fut
        return await coro, await fut

    assert asyncio.run(main()) == (7, 8)
