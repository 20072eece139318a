"""The ready calls of one stage actor, served one at a time in the order of a queue discipline.

Ray runs a plain actor's calls in arrival order (FIFO). An ``OrderedStageWorker`` (an async actor)
instead parks every call here once its input is ready (Ray resolves the previous stage's ObjectRef
before the call starts) and runs the one the discipline ranks first whenever the stage falls idle:
the rule of the simulator's queue engine (``simulator.discipline_reference``), decided by the same
``scheduling.disciplines.DisciplineState``. Each call carries a ``ticket`` from the controller
(``ticket_for``): the batch's id, earliest arrival and deadline, and the controller's estimate of
every stage of the model; the queue observes its own stage's compute times (Paella's EWMA) and takes
the other stages' estimates from the tickets. Pure asyncio, no Ray: unit-tested on a fake clock.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Callable

from alpa_serve_like.scheduling.disciplines import DisciplineState, Waiting


def ticket_for(job: int, arrival_s: float, deadline_s: float, estimates_s: list[float]) -> dict:
    """What a stage call carries for ordering (plain values: it crosses Ray)."""
    return {"job": int(job), "arrival_s": float(arrival_s), "deadline_s": float(deadline_s),
            "estimates_s": [float(x) for x in estimates_s]}


class StageQueue:
    """Calls waiting for stage ``stage`` of a ``num_stages``-stage pipeline; one runs at a time."""

    def __init__(self, discipline: str, fairness_threshold: float, stage: int, num_stages: int,
                 clock: Callable[[], float] = time.monotonic):
        self.state = DisciplineState(discipline, fairness_threshold)
        self.stage, self.num_stages = stage, num_stages
        self.clock = clock
        self._waiting: list[tuple[Waiting, asyncio.Future]] = []
        self._busy = False
        self.served: list[int] = []
        """Job ids in the order their turn came (the last 1000; for tests and debugging)."""

    def num_waiting(self) -> int:
        """Calls parked for their turn (not the running one)."""
        return sum(not future.done() for _, future in self._waiting)

    def waiting(self, model: str, ticket: dict | None) -> Waiting:
        """The call as the discipline sees it; a call without a ticket (warm-up) goes first."""
        if ticket is None:
            return Waiting(-1, model, -math.inf, self.stage, self.num_stages, -math.inf)
        return Waiting(int(ticket["job"]), model, float(ticket["arrival_s"]), self.stage, self.num_stages,
                       float(ticket["deadline_s"]))

    async def turn(self, model: str, ticket: dict | None) -> None:
        """Wait until this call may run; the caller must call ``release`` when it is done."""
        if ticket is not None:
            for unit, est in enumerate(ticket.get("estimates_s", ())):
                if unit != self.stage:  # this stage's own estimate comes from its own observations
                    self.state.work.adopt(model, unit, est)
        future = asyncio.get_running_loop().create_future()
        entry = (self.waiting(model, ticket), future)
        self._waiting.append(entry)
        self._grant()
        try:
            await future
        except asyncio.CancelledError:
            if entry in self._waiting:
                self._waiting.remove(entry)
            elif future.done() and not future.cancelled():  # granted, then cancelled: pass the turn on
                self.release(model, None)
            raise

    def release(self, model: str, compute_s: float | None) -> None:
        """The running call finished (``compute_s``: its measured compute, None if it failed)."""
        if compute_s is not None:
            self.state.observe(model, self.stage, compute_s)
        self._busy = False
        self._grant()

    def _grant(self) -> None:
        # A cancelled call's future is done before its task runs the cleanup in ``turn``; a release
        # in between must neither grant it (set_result would raise and leave the stage busy for
        # good) nor rank it.
        self._waiting = [entry for entry in self._waiting if not entry[1].done()]
        if self._busy or not self._waiting:
            return
        index = self.state.select([w for w, _ in self._waiting], self.clock())
        waiting, future = self._waiting.pop(index)
        self._busy = True
        self.served.append(waiting.job)
        del self.served[:-1000]
        future.set_result(None)
