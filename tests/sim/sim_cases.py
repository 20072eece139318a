"""Random small simulator cases for the kernel-vs-reference parity test."""
from __future__ import annotations

import numpy as np

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlacementSchedule
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions
from alpa_serve_like.core.workload import Workload

CONFIGS = [ParallelConfig(1, op, pp) for op in (1, 2) for pp in (1, 2, 3)]


def _grid(x, rng_value: bool):
    """On half the cases, snap times to multiples of 1/8 s so that exact ties (a finish equal to a
    deadline or to an arrival) happen often and the tie rules are compared too."""
    return np.maximum(np.round(np.asarray(x) * 8) / 8, 0.125) if rng_value else np.asarray(x)


def random_profile(name: str, rng: np.random.Generator, snap: bool = False) -> ModelProfile:
    """Random stage latencies for every config in CONFIGS; profiled batch sizes vary (padding, inf)."""
    configs = {}
    for cfg in CONFIGS:
        sizes = sorted(rng.choice([1, 2, 3, 4], size=rng.integers(1, 4), replace=False).tolist())
        base = rng.uniform(0.05, 0.8, size=cfg.pp)
        if rng.random() < 0.3:  # linear in the batch size: joining ties with running alone
            lat = {int(b): tuple(float(x) for x in base * b) for b in sizes}
        else:
            lat = {int(b): tuple(float(x) for x in _grid(base * (1 + 0.4 * (b - 1)) * rng.uniform(0.9, 1.1), snap))
                   for b in sizes}
        configs[cfg] = ConfigProfile(cfg, lat, tuple([100] * cfg.pp))
    return ModelProfile(name=name, device="test-gpu", configs=configs, source="test")


def random_placement(models: list[str], rng: np.random.Generator) -> Placement:
    groups = []
    for _ in range(rng.integers(1, 5)):
        cfg = CONFIGS[rng.integers(len(CONFIGS))]
        hosted = rng.choice(models, size=rng.integers(1, len(models) + 1), replace=False)
        groups.append(GroupPlacement(cfg, tuple(str(m) for m in hosted)))
    return Placement(tuple(groups))


def random_case(rng: np.random.Generator):
    """(placement or schedule, workload, profiles, options) with ties in arrival times on purpose."""
    num_models = int(rng.integers(1, 5))
    names = tuple(f"m{i}" for i in range(num_models + 1))  # the last one is never placed
    placed = list(names[:-1])
    snap = bool(rng.random() < 0.5)
    profiles = {m: random_profile(m, rng, snap) for m in placed}
    n = int(rng.integers(5, 80))
    arrival = np.sort(np.round(rng.uniform(0.0, rng.uniform(1.0, 20.0), size=n) * 8) / 8)  # grid -> ties
    weights = np.r_[np.ones(num_models), 0.1]
    model_id = rng.choice(num_models + 1, size=n, p=weights / weights.sum())
    slo = _grid(rng.uniform(0.3, 4.0, size=n), snap)
    workload = Workload(arrival, model_id, slo, names)
    if rng.random() < 0.25:
        cut = float(np.round(rng.uniform(arrival[0], arrival[-1] + 1e-3), 1))
        placement = PlacementSchedule((0.0, cut), (random_placement(placed, rng), random_placement(placed, rng)))
    else:
        placement = random_placement(placed, rng)
    scheduling = SchedulingOptions(
        routing=str(rng.choice(["earliest_finish", "shortest_queue"])),
        admission=bool(rng.random() < 0.7),
        max_batch_size=int(rng.choice([1, 2, 3, 4])),
        dispatch_overhead_s=float(rng.choice([0.0, 0.125] if snap else [0.0, 0.01, 0.1])),
        per_stage_overhead_s=float(rng.choice([0.0, 0.0625] if snap else [0.0, 0.005])),
        batch_join_slack_s=float(rng.choice([0.0, 1e-9])),
    )
    options = SimOptions(scheduling=scheduling, warmup_s=float(rng.choice([0.0, 1.0])))
    return placement, workload, profiles, options
