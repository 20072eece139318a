"""PARIS + ELSA vs homogeneous MIG partitionings: the points, the traffic and one simulated point.

Traffic: Poisson queries of one network, each carrying a batch (client-side batching, as in PARIS):
batch sizes drawn from ``BATCH_FREQ``. A query of batch ``b`` is a request of the pseudo-model
``<network>/b<b>``, whose latency on a partition is the calibrated MIG slice model
(``cost_model.mig_slices``) at batch ``b``; groups do not batch further (``max_batch_size`` 1).
Every query's SLO is ``slo_scale`` x the latency of the largest batch on a whole GPU (7g).

Configurations on ``num_gpus`` A100-80GB GPUs: homogeneous 7 x 1g, 3 x 2g + 1g, 2 x 3g and 1 x 7g per
GPU (7g = whole GPUs, where AlpaServe's placement of one small network is one replica per GPU), and
the PARIS plan for this traffic. Dispatch: ``earliest_finish`` (FIFO: the query starts on the
partition that frees up first), ``shortest_queue`` (least loaded) and ``elsa``. Every point runs the
numba kernel (``backend="kernel"``, the default; all three policies have a kernel version) or the
reference simulator over the shared ``scheduling.Scheduler``, with admission on (a query predicted
to miss its SLO is rejected and counts as a miss); both decide the same.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from alpa_serve_like.cost_model.mig_slices import slice_latency_s
from alpa_serve_like.placement.paris import ParisConstants, paris_plan
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.scheduling.partition_tables import build_partition_tables
from alpa_serve_like.simulator.kernel import KernelRun
from alpa_serve_like.simulator.reference import simulate_segment_reference

GPU = "a100-80gb"
BATCH_FREQ: dict[int, float] = {1: 0.3, 2: 0.2, 4: 0.15, 8: 0.15, 16: 0.1, 32: 0.1}
"""Query batch sizes and their probabilities: mostly small queries, a tail of large ones."""

HOMOGENEOUS: dict[str, tuple[int, ...]] = {
    "7x1g": (1,) * 7,
    "3x2g+1g": (2, 2, 2, 1),
    "2x3g": (3, 3),
    "1x7g": (7,),
}


@dataclass(frozen=True)
class ParisPoint:
    """One simulated point: a partitioning, a dispatch policy and a load."""

    config: str
    dispatch: str
    load_rps: float
    network: str = "resnet50"
    num_gpus: int = 2
    slo_scale: float = 3.0
    duration_s: float = 30.0
    seed: int = 0
    backend: Literal["kernel", "reference"] = "kernel"


def partitions_of(config: str, network: str, num_gpus: int,
                  constants: ParisConstants = ParisConstants()) -> tuple[int, ...]:
    """Partition sizes of a configuration over the cluster, ascending."""
    if config == "paris":
        plan = paris_plan(lambda k, b: slice_latency_s(network, k, b), BATCH_FREQ, num_gpus, GPU, constants)
        return plan.partitions
    try:
        return tuple(sorted(HOMOGENEOUS[config] * num_gpus))
    except KeyError:
        raise ValueError(f"unknown configuration {config!r} (known: paris, {', '.join(HOMOGENEOUS)})") from None


def make_queries(load_rps: float, duration_s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson arrival times and the batch-size index (into ``BATCH_FREQ``) of each query."""
    n = rng.poisson(load_rps * duration_s)
    arrival = np.sort(rng.uniform(0.0, duration_s, n))
    batches = list(BATCH_FREQ)
    probs = np.array([BATCH_FREQ[b] for b in batches])
    kind = rng.choice(len(batches), size=n, p=probs / probs.sum())
    return arrival, kind.astype(np.int64)


def run_point(point: ParisPoint) -> dict:
    """Simulate one point; returns a TSV row (see ``gen_data_paris.COLUMNS``)."""
    t0 = time.perf_counter()
    sizes = partitions_of(point.config, point.network, point.num_gpus)
    batches = list(BATCH_FREQ)
    names = [f"{point.network}/b{b}" for b in batches]
    lat = np.array([[[slice_latency_s(point.network, k, b)] for k in sizes] for b in batches])
    tables = build_partition_tables(names, sizes, lat)
    slo_s = point.slo_scale * slice_latency_s(point.network, 7, max(batches))
    arrival, kind = make_queries(point.load_rps, point.duration_s, np.random.default_rng(point.seed))
    deadline = arrival + slo_s
    sched = SchedulingOptions(routing=point.dispatch)
    if point.backend == "kernel":
        out = KernelRun(tables, arrival, kind, deadline, sched).result()
    else:
        out = simulate_segment_reference(tables, arrival, kind, deadline, sched)
    served = out.batch >= 0
    finish = np.full(len(arrival), np.inf)
    finish[served] = out.batch_finish_s[out.batch[served]]
    latency = finish - arrival
    good = served & (finish <= deadline + 1e-12)
    n = len(arrival)
    return {
        "config": point.config,
        "partitions": "+".join(f"{k}g" for k in sorted(sizes, reverse=True)),
        "dispatch": point.dispatch,
        "load_rps": point.load_rps,
        "slo_attainment": good.sum() / n if n else float("nan"),
        "p95_ms": 1e3 * float(np.percentile(latency[served], 95)) if served.any() else float("nan"),
        "throughput_rps": good.sum() / point.duration_s,
        "gpus": point.num_gpus,
        "slo_scale": point.slo_scale,
        "network": point.network,
        "slo_ms": 1e3 * slo_s,
        "queries": n,
        "sim_s": time.perf_counter() - t0,
    }


def suite(quick: bool) -> list[ParisPoint]:
    """The points of ``gen_data_paris``: every configuration x dispatch x load x SLO scale.

    Full runs add two ELSA variants on the PARIS plan (alpha 1.5; beta 2) to show the constants' effect.
    """
    from alpa_serve_like.scheduling.routing.elsa import register_elsa

    loads = (200.0, 400.0, 600.0) if quick else tuple(float(x) for x in range(100, 801, 100))
    duration_s = 10.0 if quick else 60.0
    dispatches = ("earliest_finish", "shortest_queue", "elsa")
    variants = () if quick else (register_elsa(1.5, 1.0), register_elsa(1.0, 2.0))
    points = []
    for slo_scale in (2.0, 3.0):
        for load in loads:
            for config in ("paris", *HOMOGENEOUS):
                for dispatch in dispatches + (variants if config == "paris" else ()):
                    points.append(ParisPoint(config, dispatch, load, slo_scale=slo_scale, duration_s=duration_s))
    return points
