"""ControllerWatch: the separate ingress's view of whether the controller replica answers.

When the controller replica dies, Serve restarts it (seconds: its mesh groups start again), and a
handle call made meanwhile waits for the new replica instead of failing; issue 11 measured 12.6 s
with no answers. The ingress therefore pings the controller every ``period_s`` with a
``timeout_s`` limit: while the last ping failed, requests are answered 503
``controller_unavailable`` at once, and calls already in flight are abandoned (and answered 503)
the moment a ping fails. So a client hears within about ``period_s + timeout_s`` of the loss.
Pure asyncio; the ping is injected (``controller.ping.remote`` in the ingress, fakes in tests).
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


class ControllerUnavailable(RuntimeError):
    """The controller did not answer its last ping (it is gone or restarting)."""


class ControllerWatch:
    """Pings with ``ping()`` every ``period_s``; ``guard`` races a call against losing the controller."""

    def __init__(self, ping: Callable[[], Awaitable], *, period_s: float = 0.25, timeout_s: float = 1.0):
        if not (period_s > 0 and timeout_s > 0):
            raise ValueError(f"period_s and timeout_s must be > 0, got {period_s!r}, {timeout_s!r}")
        self.ping, self.period_s, self.timeout_s = ping, period_s, timeout_s
        self.up = True  # optimistic until a ping fails: the ingress starts after the controller
        self.last_error = ""
        self._down: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start pinging on the running loop (once)."""
        if self._task is None:
            self._down = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(_awaited(self.ping()), self.timeout_s)
                self.up, self.last_error = True, ""
                self._down.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = "no answer" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}"
                self.up, self.last_error = False, f"{reason} to a ping within {self.timeout_s:g} s"
                self._down.set()
            await asyncio.sleep(self.period_s)

    async def guard(self, make_call: Callable[[], Awaitable]):
        """``await make_call()``, unless the controller is unavailable (then the call is never made)
        or goes unavailable first (then it is cancelled): both raise ``ControllerUnavailable``."""
        self.start()
        if not self.up:
            raise ControllerUnavailable(f"the controller is unavailable ({self.last_error}); retry later")
        work = asyncio.ensure_future(_awaited(make_call()))
        lost = asyncio.ensure_future(self._down.wait())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if work.done():
            return work.result()
        work.cancel()
        raise ControllerUnavailable(f"the controller stopped answering ({self.last_error}); retry later")


async def _awaited(call):
    return await call

