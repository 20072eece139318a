"""The six GPU scheduling systems of Paella's evaluation, as data the engine reads.

- ``cuda-ss``: CUDA, one stream: every kernel of every job in one FIFO, one kernel at a time.
- ``cuda-ms``: CUDA, one stream per job; streams map round-robin onto 32 hardware queues, and a
  queue only offers its head job's next kernel (head-of-line blocking behind the job in front).
  The hardware starts offered kernels in the order they became ready, so concurrent jobs
  interleave kernel by kernel and all of them finish late, and hands out blocks oldest kernel
  first (a ready kernel that does not fit keeps its room from younger ones).
- ``paella-ss``: Paella's dispatcher, FIFO, one stream (serial like cuda-ss: the ablation's base).
- ``paella-ms-jbj``: Paella, FIFO job by job over many streams: the 32 oldest jobs own a hardware
  queue each (no sharing, so no false head-of-line blocking); the rest wait in software. The
  hardware still interleaves the 32 by kernel readiness.
- ``paella-ms-kbk``: Paella, FIFO kernel by kernel: every admitted job's next kernel is a
  candidate (up to 500 streams), dispatched in job-arrival order while it fits the free SM
  resources, plus up to 2 launched kernels waiting for room.
- ``paella``: as kbk, ordered by SRPT with the fairness threshold U.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alpa_serve_like.scheduling.disciplines import QueueDiscipline

GpuSystem = Literal["cuda-ss", "cuda-ms", "paella-ss", "paella-ms-jbj", "paella-ms-kbk", "paella"]
StreamModel = Literal["serial", "hw_queues", "queue_per_job", "kernel_dispatch"]

HARDWARE_QUEUES = 32
"""Concurrent hardware work queues of NVIDIA GPUs since Kepler (Hyper-Q)."""
STREAM_POOL = 500
"""Paella's pool of CUDA streams."""
MAX_PENDING_KERNELS = 2
"""Kernels Paella launches beyond those that fit, to keep the GPU fed (they wait for room)."""


@dataclass(frozen=True)
class SystemSpec:
    name: GpuSystem
    streams: StreamModel
    discipline: QueueDiscipline = "fcfs"


SYSTEMS: dict[str, SystemSpec] = {
    s.name: s
    for s in (
        SystemSpec("cuda-ss", "serial"),
        SystemSpec("cuda-ms", "hw_queues"),
        SystemSpec("paella-ss", "serial"),
        SystemSpec("paella-ms-jbj", "queue_per_job"),
        SystemSpec("paella-ms-kbk", "kernel_dispatch"),
        SystemSpec("paella", "kernel_dispatch", "srpt"),
    )
}


def get_system(name: str) -> SystemSpec:
    try:
        return SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown GPU system {name!r} (known: {', '.join(SYSTEMS)})") from None
