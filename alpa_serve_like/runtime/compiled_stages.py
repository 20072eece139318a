"""A one-stage mesh group's stage call over a Ray compiled graph instead of an actor call.

An ordinary actor call is a task submission: the controller serializes the call, the raylet-free
direct call goes to the actor's task queue, and the result comes back in the task's reply; on this
2-core machine that round trip cost 1.3 ms beyond compute from a driver and more from a Serve
replica, where the plain actor call was the largest piece of alpa's added latency over plain Serve
(issue 10). A compiled graph (``dag.experimental_compile(enable_asyncio=True)``) sets up
shared-memory channels once; the actor then runs a loop reading its input channel, and a call is
a channel write plus a channel read (0.8 ms in the same test, ``benchmarks/bench_hop_transport.py``
for a bare round trip).

Used for groups of one stage and one op rank under ``fcfs`` (``MeshGroup.compiled``): there the
stage's timing record and its answer are the same result, so the controller needs nothing the graph
cannot return, and the actor's FIFO loop is the order Ray's actor queue would give. The answer is
the last stage's small summary, so activations still never reach the controller.

Calls are serialized through the graph's submission lock in the order they were made (an asyncio
lock is FIFO), and a write waits while the stage is busy, so the graph's in-flight executions stay
a few. A failure that is not the model's own exception (an actor died, a channel closed) breaks
the graph: the call raises ``mesh_group.StageTransportError``, which the controller counts as a
group failure like a dead actor's error on an actor call, and so does every later call.
"""
from __future__ import annotations

import asyncio
import threading

import ray

MAX_INFLIGHT_EXECUTIONS = 64
"""Submitted but unanswered executions a graph holds before ``execute_async`` refuses; writes wait
while the stage is busy, so a one-stage graph holds ~3 and this bound is never the limit."""


class CompiledStage:
    """The compiled graph ``actor.run_payload(model, payload, ticket)`` for one stage actor; a
    broken graph raises ``error_type`` (``mesh_group.StageTransportError``)."""

    def __init__(self, actor, error_type: type[Exception]):
        self.actor = actor
        self.error_type = error_type
        self.graph = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.broken: str = ""

    def _compiled(self):
        """The graph, compiled on the first call: its channel reader and writer bind to the event
        loop running then, so it must be the loop that awaits the answers (the group's ``start``
        may run outside it). The first call is a warm-up batch, so no user request waits for it.
        A call from another loop (a test's second ``asyncio.run``) tears the old graph down first:
        Ray compiles one graph per actor at a time."""
        loop = asyncio.get_running_loop()
        if self.graph is not None and self.loop is not loop:
            self.graph.teardown()
            self.graph = None
        if self.graph is None:
            self.loop = loop
            from ray.dag import InputNode

            with InputNode() as inp:
                dag = self.actor.run_payload.bind(inp[0], inp[1], inp[2])
            self.graph = dag.experimental_compile(enable_asyncio=True,
                                                  _max_inflight_executions=MAX_INFLIGHT_EXECUTIONS)
        return self.graph

    def call(self, model: str, payload: dict, ticket: dict | None) -> asyncio.Task:
        """Submit one call now (its place in the order is taken at once); the task resolves to the
        stage's answer payload."""
        if not self.broken:
            try:
                self._compiled()
            except Exception as exc:  # e.g. the actor died before the first call
                self.broken = f"compiling the stage's graph failed: {type(exc).__name__}: {exc}"
        return asyncio.get_running_loop().create_task(self._call(model, payload, ticket))

    async def _call(self, model: str, payload: dict, ticket: dict | None) -> dict:
        if self.broken:
            raise self.error_type(self.broken)
        try:
            future = await self.graph.execute_async(model, payload, ticket)
            return await future
        except ray.exceptions.RayTaskError:
            raise  # the model's own exception: the group stays up
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead actor or closed channel (Ray raises several types here)
            self.broken = f"compiled graph failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            raise self.error_type(self.broken) from None

    def teardown(self) -> None:
        """Tear the graph down on a thread: Ray's teardown waits on the actors' loops (blocking,
        up to its timeout), which must never stall the controller's event loop."""
        self.broken = self.broken or "compiled graph torn down"
        if self.graph is not None:
            threading.Thread(target=self.graph.teardown, name="compiled-stage-teardown", daemon=True).start()
