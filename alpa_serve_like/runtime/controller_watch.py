"""ControllerWatch: the separate ingress's view of whether the controller replica answers.

When the controller replica dies, Serve restarts it (seconds: its mesh groups start again), and a
handle call made meanwhile waits for the new replica instead of failing; issue 11 measured 12.6 s
with no answers. The watch learns of the loss two ways:

* **Vigil** (death, milliseconds): one long-poll call to the controller is always in flight
  (``vigil()``: it returns after ``ControllerBase.vigil``'s hold and is sent again). A call in
  flight on a replica whose process dies fails with Ray's ``ActorDiedError`` as soon as Ray sees
  the worker's connection drop (measured ~20 ms after a SIGKILL on one node), long before a ping
  could time out. Only errors that ``is_death`` accepts count: a full queue is not a death.
* **Ping** (a hung or unreachable controller, seconds): ``ping()`` every ``period_s`` with a
  ``timeout_s`` limit (generous: a controller busy for a moment, such as recreating a group on a
  loaded machine, must not be taken as lost and have its calls abandoned). Once the controller is lost, only a ping *sent after* the loss brings it
  back, so an answer from the old replica cannot undo what the vigil saw.

While lost, requests are answered 503 ``controller_unavailable`` at once, and calls already in
flight are abandoned (and answered 503) the moment the loss is seen. Pure asyncio; the calls are
injected (``controller.vigil.remote`` / ``controller.ping.remote`` in the ingress, fakes in tests).
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


class ControllerUnavailable(RuntimeError):
    """The controller is gone or restarting (its vigil failed, or it did not answer a ping)."""


class ControllerWatch:
    """Watches the controller with ``vigil`` and ``ping``; ``guard`` races a call against losing it."""

    def __init__(self, ping: Callable[[], Awaitable], *, vigil: Callable[[], Awaitable] | None = None,
                 is_death: Callable[[BaseException], bool] = lambda exc: False,
                 is_busy: Callable[[BaseException], bool] = lambda exc: False,
                 period_s: float = 0.25, timeout_s: float = 1.0):
        if not (period_s > 0 and timeout_s > 0):
            raise ValueError(f"period_s and timeout_s must be > 0, got {period_s!r}, {timeout_s!r}")
        self.ping, self.vigil, self.is_death, self.is_busy = ping, vigil, is_death, is_busy
        """``is_busy(exc)``: a ping refused because the controller's queue is full. A busy controller is
        alive, so such a ping changes nothing (taking it as a loss would turn overload into
        ``controller_unavailable`` for every request)."""
        self.period_s, self.timeout_s = period_s, timeout_s
        self.up = True  # optimistic until told otherwise: the ingress starts after the controller
        self.last_error = ""
        self.losses = 0
        """How many times the controller was seen lost (each bumps it; pings sent before the last
        loss cannot mark it up again)."""
        self._down: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        """Start watching on the running loop (once)."""
        if not self._tasks:
            self._down = asyncio.Event()
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._ping_loop()))
            if self.vigil is not None:
                self._tasks.append(loop.create_task(self._vigil_loop()))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _lost(self, why: str) -> None:
        self.losses += 1
        self.up, self.last_error = False, why
        self._down.set()

    async def _ping_loop(self) -> None:
        while True:
            losses = self.losses
            try:
                await asyncio.wait_for(_awaited(self.ping()), self.timeout_s)
                if self.losses == losses:  # sent after the last loss: the controller answers now
                    self.up, self.last_error = True, ""
                    self._down.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.is_busy(exc):
                    reason = "no answer" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}"
                    self._lost(f"{reason} to a ping within {self.timeout_s:g} s")
            await asyncio.sleep(self.period_s)

    async def _vigil_loop(self) -> None:
        while True:
            try:
                await _awaited(self.vigil())
                continue  # the hold ended normally: send the next one at once
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.is_death(exc):
                    self._lost(f"the controller replica died: {type(exc).__name__}")
            await asyncio.sleep(self.period_s)  # never spin on a failing call

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
            # An actor error raised by the call is not taken as the controller's death: the
            # controller's own code may raise one about a stage actor (Ray makes a task's error an
            # instance of its cause's type). The vigil alone decides; the caller answers this one.
            return work.result()
        work.cancel()
        raise ControllerUnavailable(f"the controller stopped answering ({self.last_error}); retry later")


async def _awaited(call):
    return await call
