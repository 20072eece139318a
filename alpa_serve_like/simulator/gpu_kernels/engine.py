"""Discrete-event simulation of jobs made of kernels on one GPU under one of Paella's six systems.

Events are kernel completions and job arrivals, ordered by ``(time, sequence)`` with completions
at a time handled before arrivals at that time; after each time step the system's dispatch rule
runs once. A kernel starts when its first wave fits in the free SM resources (``kernel.footprint``)
and then runs for exactly its ``duration_s``, which the cost model computed for the share of the
device that wave holds (so side-by-side kernels do not slow each other; caches and memory-bandwidth
contention beyond that are not modelled). Paella's dispatcher (``kernel_dispatch``) walks the
waiting jobs in the discipline's order once per time step: a kernel that fits starts, one that
does not is launched anyway while fewer than two such wait (they keep their place: later kernels
may only use the room their footprints leave), and otherwise it is skipped so a later kernel can
backfill. At most ``max_outstanding`` jobs are
admitted at once (Paella's clients cap outstanding requests); later arrivals wait, and their
latency counts from their arrival.
"""
from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from itertools import count
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.gpu_sm import GpuSmSpec
from alpa_serve_like.scheduling.disciplines import DisciplineState, Waiting
from alpa_serve_like.simulator.gpu_kernels.kernel import Kernel, capacity, footprint
from alpa_serve_like.simulator.gpu_kernels.result import GpuRunResult
from alpa_serve_like.simulator.gpu_kernels.systems import (
    HARDWARE_QUEUES,
    MAX_PENDING_KERNELS,
    STREAM_POOL,
    get_system,
)


def simulate_gpu(
    arrival_s: Sequence[float],
    job_models: Sequence[str],
    kernels: Mapping[str, Sequence[Kernel]],
    spec: GpuSmSpec,
    system: str,
    fairness_threshold: float = math.inf,
    max_outstanding: int | None = None,
) -> GpuRunResult:
    """Run jobs (``job_models[i]`` arriving at ``arrival_s[i]``, ascending) under ``system``.

    ``kernels[model]`` is the model's kernel sequence; ``fairness_threshold`` is Paella's U (used by
    ``paella`` only); ``max_outstanding`` caps admitted jobs (None: the system's stream limit).
    """
    sysspec = get_system(system)
    arrival = np.asarray(arrival_s, dtype=float)
    n = len(arrival)
    if len(job_models) != n:
        raise ValueError(f"{n} arrival times but {len(job_models)} job models")
    if n and np.any(np.diff(arrival) < 0):
        raise ValueError("arrival_s must be in ascending order")
    missing = sorted(set(job_models) - set(kernels))
    if missing:
        raise ValueError(f"no kernel sequence for model(s) {', '.join(missing)} (known: {', '.join(sorted(kernels))})")
    empty = sorted(m for m in set(job_models) if not kernels[m])
    if empty:
        raise ValueError(f"model(s) {', '.join(empty)} have an empty kernel sequence")
    cap_jobs = STREAM_POOL if max_outstanding is None else max_outstanding
    if cap_jobs < 1:
        raise ValueError(f"max_outstanding must be >= 1, got {max_outstanding}")

    # Dense per-model tables built once; the loop only looks values up.
    dur = {m: [k.duration_s for k in kernels[m]] for m in set(job_models)}
    fps = {m: [footprint(k, spec).as_tuple for k in kernels[m]] for m in set(job_models)}
    cap = capacity(spec).as_tuple
    used = [0, 0, 0, 0]
    reserved = [0, 0, 0, 0]        # footprints of launched kernels still waiting for room
    state = DisciplineState(sysspec.discipline, fairness_threshold)
    streams = sysspec.streams

    finish = np.full(n, np.nan)
    next_k = [0] * n
    num_k = [len(dur[m]) for m in job_models]
    waiting_of: list[Waiting | None] = [None] * n
    heap: list[tuple[float, int, int]] = []
    seq = count()
    active: list[int] = []          # admitted, unfinished jobs in admission order
    busy: set[int] = set()          # jobs with a kernel running or launched-and-pending
    backlog: deque[int] = deque()
    pending: deque[int] = deque()   # launched kernels waiting for SM room (kernel_dispatch)
    queues = [deque() for _ in range(HARDWARE_QUEUES)]
    queue_of = [0] * n
    ready_s = [0.0] * n             # when the job's next kernel became ready (its predecessor ended)
    admitted = 0

    def fits(fp, with_reserved: bool = True) -> bool:
        if with_reserved:
            return (used[0] + reserved[0] + fp[0] <= cap[0] and used[1] + reserved[1] + fp[1] <= cap[1]
                    and used[2] + reserved[2] + fp[2] <= cap[2] and used[3] + reserved[3] + fp[3] <= cap[3])
        return (used[0] + fp[0] <= cap[0] and used[1] + fp[1] <= cap[1] and used[2] + fp[2] <= cap[2]
                and used[3] + fp[3] <= cap[3])

    def start(j: int, t: float) -> None:
        m, k = job_models[j], next_k[j]
        fp = fps[m][k]
        for r in range(4):
            used[r] += fp[r]
        busy.add(j)
        heapq.heappush(heap, (t + dur[m][k], next(seq), j))

    def admit(j: int, t_now: float) -> None:
        nonlocal admitted
        active.append(j)
        ready_s[j] = t_now
        queue_of[j] = admitted % HARDWARE_QUEUES
        queues[queue_of[j]].append(j)
        admitted += 1

    def waiting(j: int) -> Waiting:
        w = waiting_of[j]
        if w is None or w.next_unit != next_k[j]:
            w = waiting_of[j] = Waiting(j, job_models[j], float(arrival[j]), next_k[j], num_k[j])
        return w

    def dispatch(t: float) -> None:
        if streams == "serial":
            if not busy and active:
                start(active[0], t)
        elif streams in ("hw_queues", "queue_per_job"):
            heads = ([q[0] for q in queues if q] if streams == "hw_queues" else active[:HARDWARE_QUEUES])
            # The hardware serves ready kernels in the order they became ready, whatever their job
            # (concurrent jobs interleave kernel by kernel), and hands out blocks oldest kernel
            # first: a ready kernel that does not fit keeps its room from younger ones.
            held = [0, 0, 0, 0]
            for j in sorted(heads, key=lambda j: (ready_s[j], j)):
                if j in busy:
                    continue
                fp = fps[job_models[j]][next_k[j]]
                if all(used[r] + held[r] + fp[r] <= cap[r] for r in range(4)):
                    start(j, t)
                else:
                    for r in range(4):
                        held[r] += fp[r]
        else:
            # Launched kernels that did not fit are ahead in the hardware: they start first, in
            # launch order, and new kernels may only use what their reservation leaves free.
            while pending:
                fp = fps[job_models[pending[0]]][next_k[pending[0]]]
                if not fits(fp, with_reserved=False):
                    break
                j = pending.popleft()
                for r in range(4):
                    reserved[r] -= fp[r]
                start(j, t)
            cands = [waiting(j) for j in active if j not in busy]
            if not cands:
                return
            left = Counter(w.model for w in cands)
            order, pos, owed = state.order(cands, t), 0, state.owed_model()
            while pos < len(order):
                w = cands[order[pos]]
                pos += 1
                fp = fps[w.model][w.next_unit]
                if fits(fp):
                    start(w.job, t)
                elif len(pending) < MAX_PENDING_KERNELS:
                    pending.append(w.job)
                    busy.add(w.job)
                    for r in range(4):
                        reserved[r] += fp[r]
                else:
                    continue  # backfill: a later kernel may still fit
                state.charge([m for m, c in left.items() if c], w.model)
                left[w.model] -= 1
                if state.owed_model() != owed:  # the fairness rule now favours another model: re-rank
                    cands = [cands[i] for i in order[pos:]]
                    if not cands:
                        break
                    order, pos, owed = state.order(cands, t), 0, state.owed_model()

    i_arr = 0
    while i_arr < n or heap:
        t = heap[0][0] if heap else math.inf
        if i_arr < n and arrival[i_arr] < t:
            t = float(arrival[i_arr])
        while heap and heap[0][0] == t:
            _, _, j = heapq.heappop(heap)
            m, k = job_models[j], next_k[j]
            fp = fps[m][k]
            for r in range(4):
                used[r] -= fp[r]
            busy.discard(j)
            state.observe(m, k, dur[m][k])
            next_k[j] = k + 1
            ready_s[j] = t
            if next_k[j] == num_k[j]:
                finish[j] = t
                active.remove(j)
                queues[queue_of[j]].remove(j)
                if backlog:
                    admit(backlog.popleft(), t)
        while i_arr < n and arrival[i_arr] == t:
            if len(active) < cap_jobs:
                admit(i_arr, t)
            else:
                backlog.append(i_arr)
            i_arr += 1
        dispatch(t)
    return GpuRunResult(arrival, finish, tuple(job_models))
