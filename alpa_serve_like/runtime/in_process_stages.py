"""A one-stage mesh group whose stage runs in the controller's own process (``stage_transport=in_process``).

Why: issue 10 asks for alpa's added latency within 1 ms (p50) of a plain Serve deployment of the
same model. Plain Serve runs the model in the process Serve's proxy calls; alpa calls a stage
actor, one more process to wake per request. Over a local socket that hop is 0.03 ms bare but took
0.35-0.78 ms live on a 2-core machine, where the stage actor waits for a core the proxy, client
and controller share (``benchmarks/bench_runtime_overhead.py``, README). Here the hop is a hand-off
to a thread of the controller's process, so the request path is the same as plain Serve's.

The price, which is why ``socket`` stays the default: the controller process imports torch and
holds the models (at start, before it serves; recreating a group builds it on a worker thread,
the event loop keeps serving), the stage's Python competes with admission and HTTP handling for
the GIL (torch's kernels release it), and a stage that crashes the process takes the controller
with it. Only one-stage, one-op-rank groups under ``fcfs`` on CPU qualify
(``MeshGroup.in_process``): a GPU or a MIG slice belongs to the group's placement-group bundle,
not to the controller's replica. Other groups of such an app use ``socket``. The group's
placement group is still created, so a plan needs the same devices whichever transport serves it.

One thread per group runs its batches in the order they were submitted (fcfs, the order a stage
actor's queue would give). A model's own exception fails that batch only and the group stays up;
a call after ``close`` (the group was shut down) raises ``error_type``
(``mesh_group.StageTransportError``), a group failure. The answer is the last stage's small summary
and timing record, as from a stage actor.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


class InProcessStage:
    """Stage 0 of a one-stage group, ``worker`` (a built ``StageWorker``), run on a thread of this
    process; ``error_type`` is raised by calls after ``close``."""

    def __init__(self, worker, error_type: type[Exception], name: str = "stage"):
        self.worker = worker
        self.error_type = error_type
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.closed = False

    def run(self, model: str, payload: dict, ticket: dict | None = None) -> dict:
        """The stage's answer payload, computed on the calling thread (scripts, no event loop)."""
        self._check_open()
        return self.worker.run_payload(model, payload, ticket)

    def call(self, model: str, payload: dict, ticket: dict | None = None) -> asyncio.Future:
        """Queue one call on the group's thread now (its place in the order is taken at once); the
        future resolves to the stage's answer payload."""
        loop = asyncio.get_running_loop()
        if self.closed:
            future = loop.create_future()
            future.set_exception(self._closed_error())
            return future
        return loop.run_in_executor(self.executor, self.worker.run_payload, model, payload, ticket)

    def check_alive(self) -> None:
        self._check_open()

    def close(self) -> None:
        """Refuse new calls and drop queued ones; a batch computing now finishes on its thread and
        its answer is discarded (the group is being recreated)."""
        self.closed = True
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _check_open(self) -> None:
        if self.closed:
            raise self._closed_error()

    def _closed_error(self) -> Exception:
        return self.error_type(f"the in-process stage of group {self.worker.group_id} is shut down")
