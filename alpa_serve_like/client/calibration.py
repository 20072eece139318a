"""Serving calibration: the overheads and stage times a replay actually saw, for the simulator.

A live request's latency, as the replay client measures it, is

    client latency = proxy (client -> controller and back, both ways)
                   + queue (controller arrival -> dispatch to stage 0)
                   + sum(stage compute) + hops (actor calls, activation transfer, result return).

The simulator knows only ``dispatch_overhead_s`` (arrival -> earliest stage-0 start) and
``per_stage_overhead_s`` (added to each stage), plus the profiled stage latencies. So that both
sides time the same path, the proxy and queue medians go into the dispatch overhead and the rest
(server latency - queue - compute) is spread over the stages. On a small shared machine all of
these stretch with load (every process competes for the same cores), so they should come from a
replay at the rate being compared, not from sequential requests. The medians include whatever
waiting happened in the calibration run, so calibrate at a moderate load (waiting is rare at the
median) or accept that the simulator will count that waiting twice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alpa_serve_like.core.instances import base_model_name


@dataclass(frozen=True)
class ServingCalibration:
    """Median overheads and per-stage compute of the answered requests of one replay."""

    dispatch_overhead_s: float
    """Client send -> dispatch to stage 0: proxy (both ways) + controller queue."""
    per_stage_overhead_s: float
    """Server latency not spent computing (hops, result return), per stage."""
    proxy_s: float
    """Client latency - server latency (HTTP proxy in and out); part of ``dispatch_overhead_s``."""
    queue_s: float
    """Controller arrival -> dispatch; part of ``dispatch_overhead_s``."""
    stage_s: dict = field(default_factory=dict)
    """Base model name -> median compute time of each stage (seconds), as the stage actors saw it."""
    samples: int = 0

    def describe(self) -> str:
        stages = {m: [round(x * 1e3, 2) for x in v] for m, v in self.stage_s.items()}
        return (f"dispatch {self.dispatch_overhead_s * 1e3:.2f} ms (proxy {self.proxy_s * 1e3:.2f} + queue "
                f"{self.queue_s * 1e3:.2f}), per stage {self.per_stage_overhead_s * 1e3:.2f} ms, stage compute ms "
                f"{stages} from {self.samples} requests")

    def to_dict(self) -> dict:
        return {"dispatch_overhead_ms": self.dispatch_overhead_s * 1e3,
                "per_stage_overhead_ms": self.per_stage_overhead_s * 1e3, "proxy_ms": self.proxy_s * 1e3,
                "queue_ms": self.queue_s * 1e3, "samples": self.samples,
                "stage_compute_ms": {m: [x * 1e3 for x in v] for m, v in self.stage_s.items()}}


def calibrate_from_replay(result, skip_s: float = 0.0) -> ServingCalibration:
    """Calibration from the answered requests of ``result`` (a ``ReplayResult``) that arrived at least
    ``skip_s`` after the first one (leave out the cold start). Raises ValueError if none is left."""
    w = result.workload
    keep = (result.status == 200) & np.isfinite(result.latency_s) & np.isfinite(result.server_total_ms)
    keep &= np.isfinite(result.queue_ms)
    if len(w) and skip_s > 0:
        keep &= w.arrival_s >= w.arrival_s[0] + skip_s
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ValueError(f"calibration: no answered request with a timing breakdown after the first "
                         f"{skip_s:g} s of {len(w)} requests; run the calibration replay longer or at a lower rate")
    proxy, queue, per_stage, stages = [], [], [], {}
    for i in rows:
        compute_ms = [float(x) for x in result.stages_ms[i].split(",") if x]
        if not compute_ms:
            continue
        server_ms, queue_ms = float(result.server_total_ms[i]), float(result.queue_ms[i])
        proxy.append(result.latency_s[i] - server_ms / 1e3)
        queue.append(queue_ms / 1e3)
        per_stage.append((server_ms - queue_ms - sum(compute_ms)) / 1e3 / len(compute_ms))
        base = base_model_name(w.model_names[w.model_id[i]])
        stages.setdefault((base, len(compute_ms)), []).append([x / 1e3 for x in compute_ms])
    stage_s = {}
    for (base, _), values in sorted(stages.items(), key=lambda kv: -len(kv[1])):
        # A model served with different pipeline depths keeps the depth seen most often.
        stage_s.setdefault(base, tuple(float(x) for x in np.median(np.asarray(values), axis=0)))
    proxy_s, queue_s = _median(proxy), _median(queue)
    return ServingCalibration(
        dispatch_overhead_s=max(proxy_s + queue_s, 0.0), per_stage_overhead_s=max(_median(per_stage), 0.0),
        proxy_s=proxy_s, queue_s=queue_s, stage_s=stage_s, samples=len(proxy),
    )


def _median(values) -> float:
    return float(np.median(values)) if len(values) else math.nan


def calibrated_profile(profile, seen_stage_s):
    """``profile`` (a ``ModelProfile``) with its stage latencies, at every batch size, matched to the
    per-stage compute ``seen_stage_s`` of a replay (``ServingCalibration.stage_s[base]``): stage by
    stage for the pipeline depth that was served, by the ratio of the totals for the other depths."""
    from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
    from alpa_serve_like.core.parallel_config import ParallelConfig

    served_config = ParallelConfig(1, 1, len(seen_stage_s))
    served = np.asarray(profile.config(served_config).latency_s(1))
    per_stage = np.asarray(seen_stage_s) / served
    total = float(np.sum(seen_stage_s) / np.sum(served))
    configs = {}
    for c, e in profile.configs.items():
        scale = per_stage if c == served_config else np.full(c.pp, total)
        configs[c] = ConfigProfile(c, {b: tuple(float(x) for x in np.asarray(lat) * scale)
                                       for b, lat in e.stage_latency_s.items()}, e.weight_bytes, e.act_bytes)
    return ModelProfile(profile.name, profile.device, configs, profile.spec,
                        source=f"{profile.source}+served-calibration")
