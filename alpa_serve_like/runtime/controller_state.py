"""The controller's bookkeeping values: pending requests, queued batches, per-group state, and the
interfaces it is given (group backends, metrics sinks). Pure Python, no Ray."""
from __future__ import annotations

import asyncio
import math
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from alpa_serve_like.runtime.requests import InferRequest

GroupFactory = Callable[[int, int], Any]
"""``(group index, generation) -> group backend`` with ``start()``, ``start_async()``,
``submit(model, tokens) -> Submission``, ``check_alive()`` (async) and ``shutdown()``."""


@dataclass(frozen=True)
class Submission:
    """The awaitables of one batch in flight (Ray ObjectRefs for mesh groups). Each resolves to a
    small value, never to activations: ``first`` once stage 0 is free (to its timing record; in a
    one-stage group to the answer itself), ``last`` to the last stage's summary and timings (the answer), ``others`` to the
    timing records of the other op ranks."""

    first: Any
    last: Any
    others: tuple = ()


class NullMetrics:
    """Metrics sink that drops everything (unit tests, local mode)."""

    def on_request(self, model: str, outcome: str, latency_s: float, slo_met: bool) -> None: ...

    def on_batch(self, group: int, stage_compute_s) -> None: ...

    def on_group_state(self, group: int, up: bool) -> None: ...


@dataclass
class PendingRequest:
    request: InferRequest
    arrival_s: float
    deadline_s: float
    future: asyncio.Future


@dataclass
class QueuedBatch:
    batch_id: int
    group: int
    generation: int
    model: str
    created_s: float
    """When the scheduler opened it (the earliest it could have been dispatched)."""
    requests: list = field(default_factory=list)
    dispatch_s: float = math.nan
    done: bool = False


@dataclass
class GroupState:
    backend: Any
    num_stages: int
    generation: int = 0
    up: bool = True
    restarts: int = 0
    warm: bool = False
    """Has served its warm-up batches (each model once) since it was (re)created."""
    queue: deque = field(default_factory=deque)
    batches: dict = field(default_factory=dict)
    wake: asyncio.Event | None = None
    parked: bool = False
    """The group's dispatcher waits for ``wake`` with an empty queue."""
    last_first: Any = None
    last_error: str = ""
    prev_ends_s: list = field(default_factory=list)
    """When the last completed batch left each stage (separates queueing from overhead)."""


def awaitable(obj):
    """Ray ObjectRefs and asyncio futures both work with ``await_within`` once wrapped.

    An ObjectRef becomes an asyncio future (``asyncio.wrap_future(ref.future())``) rather than a
    coroutine: ``wait_for`` takes a future as it is, while a coroutine costs it one more Task and
    event-loop turn per batch. Not ``ref.as_future()``: Ray 2.60 logs a deprecation WARNING on every
    call, a log line per batch that the replica writes and Ray's log monitor forwards.
    """
    if asyncio.isfuture(obj) or asyncio.iscoroutine(obj):
        return obj
    future = getattr(obj, "future", None)
    return asyncio.wrap_future(future()) if callable(future) else _await(obj)


async def _await(obj):
    return await obj


def settled_when_done(answer: asyncio.Future) -> asyncio.Future:
    """A future of its own that resolves once ``answer`` is done: to the answer, or to None when
    the call failed or was cancelled (stage 0's turn is over either way; it never raises). The
    batching dispatcher awaits it while ``_finish`` awaits ``answer`` within a timeout, which
    cancels ``answer``; awaiting ``answer`` itself would have cancelled the dispatcher too."""
    first = answer.get_loop().create_future()

    def settle(done: asyncio.Future) -> None:
        if not first.done():
            first.set_result(None if done.cancelled() or done.exception() is not None else done.result())

    answer.add_done_callback(settle)
    return first


async def await_within(aw, timeout_s: float):
    """``await aw``, raising ``asyncio.TimeoutError`` if it takes over ``timeout_s`` (``aw`` is then
    cancelled), like ``asyncio.wait_for``. Where Python has ``asyncio.timeout`` (3.11+) ``aw`` runs
    in the calling task: ``wait_for`` wraps a coroutine in a new Task and releases the caller one
    event-loop turn after ``aw`` is done, a cost on every request's hot path (body read, batch
    wait; ``benchmarks/bench_controller_path.py``)."""
    if _HAS_TIMEOUT:
        async with asyncio.timeout(timeout_s):
            return await aw
    return await asyncio.wait_for(aw, timeout_s)


_HAS_TIMEOUT = sys.version_info >= (3, 11)


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def plain_text(text: str) -> str:
    """``text`` without terminal escape sequences (Ray colours its exception messages; an HTTP
    client must never receive them)."""
    return _ANSI_ESCAPE.sub("", text)


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``, colour codes removed, at most 300 characters."""
    text = plain_text(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
