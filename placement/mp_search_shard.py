"""mp-search-shard-<devices>: mp-search on independent shards of a large cluster.

mp-search simulates all training traffic once per replica it adds, so its cost grows about with
devices x requests (quadratically when traffic grows with the cluster): 256 devices took 29 s and
512 devices 112 s (issue 12). Here the models are dealt to K = num_devices // shard_devices
shards so that each gets a similar load (rate x single-device latency): largest load first, each
to the least-loaded shard so far (LPT: on 128 devices / 96 models / 4 shards the shard loads came
out 22.59-22.69 device-equivalents, against 21.8-24.4 dealt in snake order). Each shard is solved by
mp-search on its own models, traffic and ``shard_devices`` devices (the last shard also gets the
left-over devices), and the groups are put side by side. The cost is K searches of fixed size:
linear in the cluster. What is lost: a model is replicated only within its shard, so traffic
cannot move between shards (small when a shard holds dozens of devices). A tqdm bar on stderr
shows shards done and the ETA.
"""
from __future__ import annotations

import sys
from dataclasses import replace

from alpa_serve_like.placement.memory import PlacementInfeasibleError
from alpa_serve_like.placement.mp_search import candidate_partitions, search_partitions
from alpa_serve_like.placement.mp_search_sep import restrict, single_device_latency_s
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


def model_loads(problem: PlacementProblem) -> dict[str, float]:
    """Device-seconds of work per second of each model: rate x single-device latency."""
    return {m: problem.rates[problem.index[m]] * single_device_latency_s(problem, m) for m in problem.models}


def deal_models(problem: PlacementProblem, num_shards: int) -> list[list[str]]:
    """Largest load first, each model to the shard with the least load so far (ties: lowest index)."""
    load = model_loads(problem)
    shards: list[list[str]] = [[] for _ in range(num_shards)]
    totals = [0.0] * num_shards
    for m in sorted(problem.models, key=lambda m: (-load[m], problem.index[m])):
        k = min(range(num_shards), key=lambda j: (totals[j], j))
        shards[k].append(m)
        totals[k] += load[m]
    return shards


def shard_sizes(num_devices: int, shard_devices: int) -> list[int]:
    """Devices per shard: ``shard_devices`` each, the remainder added to the last shard."""
    count = max(1, num_devices // shard_devices)
    sizes = [shard_devices] * count
    sizes[-1] += num_devices - shard_devices * count
    return sizes


@register_policy("mp-search-shard", param="shard_devices")
def mp_search_shard(cluster, models, profiles, train_workload, options, rng, *, shard_devices: int):
    """mp-search per shard of N devices (models dealt by load), groups side by side: linear in the cluster."""
    if shard_devices % cluster.devices_per_node and shard_devices < cluster.num_devices:
        raise ValueError(f"mp-search-shard-{shard_devices}: shards must be whole nodes "
                         f"(a multiple of {cluster.devices_per_node} devices)")
    from tqdm import tqdm

    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    sizes = shard_sizes(cluster.num_devices, shard_devices)
    shards = deal_models(problem, len(sizes))
    states = []
    for k, (part, size) in enumerate(tqdm(list(zip(shards, sizes)), desc=f"mp-search-shard-{shard_devices}",
                                          unit="shard", file=sys.stderr, mininterval=1.0)):
        sub = PlacementProblem(replace(cluster, num_devices=size), part, problem.profiles,
                               restrict(problem.workload, part), options)
        try:
            states.append(search_partitions(sub, candidate_partitions(sub))[0].state)
        except PlacementInfeasibleError as exc:
            raise PlacementInfeasibleError(f"mp-search-shard-{shard_devices}: shard {k} ({len(part)} models "
                                           f"on {size} devices): {exc}") from None
        problem.evaluations += sub.evaluations
        problem.simulated_requests += sub.simulated_requests
    merged = FillState([c for s in states for c in s.configs], problem.memory)
    merged.hosted = [list(h) for s in states for h in s.hosted]
    merged.usage = [u.copy() for s in states for u in s.usage]
    score = problem.score(merged.to_placement())
    return merged.to_placement({
        "policy": f"mp-search-shard-{shard_devices}", "shards": len(sizes), "train_attainment": score.attainment,
        "evaluations": problem.evaluations, "simulated_requests": problem.simulated_requests,
    })
