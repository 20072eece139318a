"""mp-search-sep: mp-search on separated model clusters, kept if it beats the joint search.

Source: AlpaServe's search with "separation" (its ``use_separation`` option): models with similar
single-device latency form a cluster (consecutive in latency order, within
``options.same_cluster_threshold`` of the cluster's fastest member); for each way of merging
neighbouring clusters into parts, the devices are split between parts in proportion to their load
(rate x single-device latency, in whole nodes when there are enough nodes), each part is solved by
mp-search on its own models and traffic, and the union is simulated on the full training workload.
The best of these and of the joint mp-search is returned.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.mp_search import candidate_partitions, search_partitions
from alpa_serve_like.placement.memory import PlacementInfeasibleError
from alpa_serve_like.placement.partitions import describe
from alpa_serve_like.placement.problem import PlacementProblem, Score
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


def single_device_latency_s(problem: PlacementProblem, model: str) -> float:
    profile = problem.profiles[model]
    single = ParallelConfig(1, 1, 1)
    if single in profile.configs:
        return profile.configs[single].total_latency_s(min(profile.configs[single].batch_sizes))
    return min(problem.latency_s(model, c) for c in profile.configs)


def latency_clusters(problem: PlacementProblem) -> list[list[str]]:
    """Models grouped by single-device latency, fastest cluster first."""
    lat = {m: single_device_latency_s(problem, m) for m in problem.models}
    clusters: list[list[str]] = []
    anchor = None
    for m in sorted(problem.models, key=lambda m: (lat[m], problem.index[m])):
        if anchor is None or lat[m] > anchor * (1 + problem.options.same_cluster_threshold):
            clusters.append([])
            anchor = lat[m]
        clusters[-1].append(m)
    return clusters


def split_devices(loads: list[float], num_devices: int, granule: int) -> list[int] | None:
    """Largest-remainder split of ``num_devices`` in proportion to ``loads``, in multiples of ``granule``."""
    units = num_devices // granule
    if units < len(loads):
        return None
    total = sum(loads) or 1.0
    quota = [max(l / total * units, 1.0) for l in loads]
    base = [max(1, int(q)) for q in quota]
    while sum(base) > units:
        base[int(np.argmax(base))] -= 1
    order = sorted(range(len(loads)), key=lambda i: -(quota[i] - int(quota[i])))
    for i in itertools.cycle(order):
        if sum(base) >= units:
            break
        base[i] += 1
    sizes = [b * granule for b in base]
    sizes[-1] += num_devices - sum(sizes)  # devices not divisible by the granule go to the last part
    return sizes


def restrict(workload: Workload, models: list[str]) -> Workload:
    """The requests of ``models`` only (same model-name table)."""
    keep_ids = [i for i, n in enumerate(workload.model_names) if n in set(models)]
    return workload.select(np.isin(workload.model_id, keep_ids))


def _solve_part(problem: PlacementProblem, models: list[str], num_devices: int, refine: int):
    """mp-search on ``models`` alone with ``num_devices`` devices; (state or None, sub-problem)."""
    cluster = replace(problem.cluster, num_devices=num_devices)
    sub = PlacementProblem(cluster, models, problem.profiles, restrict(problem.workload, models), problem.options)
    try:
        best = search_partitions(sub, candidate_partitions(sub), refine=refine)[0]
    except PlacementInfeasibleError:
        return None, sub
    return best.state, sub


def contiguous_parts(clusters: list[list[str]]):
    """Every way of cutting the ordered clusters into two or more contiguous parts."""
    for cuts in itertools.product((False, True), repeat=len(clusters) - 1):
        if not any(cuts):
            continue  # one part is the joint search
        parts, current = [], list(clusters[0])
        for cut, nxt in zip(cuts, clusters[1:]):
            if cut:
                parts.append(current)
                current = []
            current = current + nxt
        parts.append(current)
        yield parts


def part_load(problem: PlacementProblem, models: list[str]) -> float:
    """Device-seconds of work per second: sum of rate x single-device latency."""
    return sum(problem.rates[problem.index[m]] * single_device_latency_s(problem, m) for m in models)


def separations(problem: PlacementProblem) -> list[tuple[list[list[str]], list[int]]]:
    """Each way of cutting the latency-ordered clusters into contiguous parts, with its device split."""
    cluster = problem.cluster
    granule = cluster.devices_per_node if cluster.num_devices >= 2 * cluster.devices_per_node else 1
    out = []
    for parts in contiguous_parts(latency_clusters(problem)):
        sizes = split_devices([part_load(problem, p) for p in parts], cluster.num_devices, granule)
        if sizes is not None:
            out.append((parts, sizes))
    return out


def union_of_parts(problem: PlacementProblem, parts, sizes, refine: int, cache: dict | None = None) -> FillState | None:
    """Solve every part on its devices and put the groups side by side (None if a part fails).

    ``cache`` (optional) remembers part solutions by (models, devices, refine) across calls.
    """
    states = []
    for part, size in zip(parts, sizes):
        key = (tuple(part), size, refine)
        if cache is not None and key in cache:
            state = cache[key]
        else:
            state, sub = _solve_part(problem, part, size, refine)
            problem.evaluations += sub.evaluations
            problem.simulated_requests += sub.simulated_requests
            if cache is not None:
                cache[key] = state
        if state is None:
            return None
        states.append(state)
    merged = FillState([c for s in states for c in s.configs], problem.memory)
    merged.hosted = [list(h) for s in states for h in s.hosted]
    merged.usage = [u.copy() for s in states for u in s.usage]
    return merged


def search_with_separation(problem: PlacementProblem) -> list[tuple[FillState, Score, str]]:
    """The joint mp-search result and the refined best separation, best first (train attainment)."""
    joint = search_partitions(problem, candidate_partitions(problem))[0]
    found = [(joint.state, joint.score, "joint " + describe(joint.partition))]
    # Screen every separation with screening fills only, then refine the most promising one.
    screened = []
    for parts, sizes in separations(problem):
        merged = union_of_parts(problem, parts, sizes, refine=0)
        if merged is not None:
            screened.append((problem.score(merged.to_placement()), parts, sizes, merged))
    screened.sort(key=lambda x: -x[0].attainment)
    for score, parts, sizes, merged in screened[:1]:
        how = " | ".join(f"{len(p)} models on {n} devices" for p, n in zip(parts, sizes))
        found.append((merged, score, how + " (screened)"))
        refined = union_of_parts(problem, parts, sizes, refine=problem.options.screen_keep)
        if refined is not None:
            found.append((refined, problem.score(refined.to_placement()), how))
    found.sort(key=lambda x: -x[1].attainment)  # stable: the joint result wins ties
    return found


@register_policy("mp-search-sep")
def mp_search_sep(cluster, models, profiles, train_workload, options, rng):
    """mp-search per latency cluster with devices split by load; keep it if it beats joint mp-search."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    state, score, how = search_with_separation(problem)[0]
    return state.to_placement({
        "policy": "mp-search-sep", "separation": how, "train_attainment": score.attainment,
        "evaluations": problem.evaluations, "simulated_requests": problem.simulated_requests,
    })
