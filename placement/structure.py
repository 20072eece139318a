"""Structure search (part of mp-anneal): which models share groups and how many devices each set gets.

mp-search-sep splits the devices between latency clusters in proportion to load, in whole nodes,
ignoring memory: a cluster of large, busy models can get more devices than it needs while the
small models' part cannot even hold one replica of each. Here every contiguous cut of the
latency-ordered clusters is tried with several memory-aware splits: every part gets about the
devices its models need to be placed once (in granules of half a node, else 2, else 1 device),
and the splits closest to "memory need, then the rest in proportion to load" are kept
(``SPLITS_PER_CUT`` per cut). Parts are solved by mp-search
(screening fills, cached across cuts), the unions are simulated on the full training workload,
and the best one is the start of the annealing (``refine_best`` re-solves the best few with exact
greedy fills first; off by default, as the annealing's moves do that job better per second).
"""
from __future__ import annotations

import itertools
import math
import time

import numpy as np

from alpa_serve_like.placement.mp_search import candidate_partitions, search_partitions
from alpa_serve_like.placement.mp_search_sep import contiguous_parts, latency_clusters, part_load, union_of_parts
from alpa_serve_like.placement.partitions import describe
from alpa_serve_like.placement.problem import PlacementProblem, Score
from alpa_serve_like.placement.state import FillState

MEMORY_SLACK = 1.02
SPLITS_PER_CUT = 2


def memory_devices(problem: PlacementProblem, models: list[str]) -> float:
    """Devices' worth of memory to host each model once, each in its most compact config."""
    total = 0.0
    for m in models:
        needs = [problem.memory.alone_bytes(m, c) * c.op * c.pp for c in problem.profiles[m].configs
                 if problem.memory.fits_alone(m, c)]
        total += min(needs) if needs else math.inf
    return total / problem.memory.budget_bytes


def device_splits(problem: PlacementProblem, parts: list[list[str]], granule: int, limit: int) -> list[list[int]]:
    """Up to ``limit`` splits of the devices (multiples of ``granule``) giving every part at least
    ~its memory need, closest first to the memory-first split (need, then the rest by load)."""
    n = problem.cluster.num_devices
    units = n // granule
    if units * granule != n:
        return []
    need = [memory_devices(problem, p) * MEMORY_SLACK for p in parts]
    low = [max(1, math.floor(x / granule)) for x in need]  # a part may drop a replica or two
    if sum(low) > units:
        return []
    loads = np.array([part_load(problem, p) for p in parts])
    target = np.array(need) + (n - sum(need)) * loads / max(loads.sum(), 1e-12)
    out = []
    for head in itertools.product(*(range(lo, units + 1) for lo in low[:-1])):
        last = units - sum(head)
        if last >= low[-1]:
            out.append([u * granule for u in (*head, last)])
    out.sort(key=lambda sizes: float(np.abs(np.array(sizes) - target).sum()))
    return out[:limit]


def structured_starts(problem: PlacementProblem, deadline: float, refine_best: int = 0
                      ) -> list[tuple[FillState, Score, str]]:
    """Candidate placements (joint mp-search and memory-first separations), best first."""
    joint = search_partitions(problem, candidate_partitions(problem))[0]
    found = [(joint.state, joint.score, "joint " + describe(joint.partition))]
    granules = sorted({max(1, problem.cluster.devices_per_node // 2), 2, 1}, reverse=True)
    cache: dict = {}
    screened = []
    for parts in contiguous_parts(latency_clusters(problem)):
        splits = next(filter(None, (device_splits(problem, parts, g, SPLITS_PER_CUT) for g in granules)), [])
        for sizes in splits:
            if time.perf_counter() > deadline:
                break
            merged = union_of_parts(problem, parts, sizes, refine=0, cache=cache)
            if merged is not None:
                screened.append((problem.score(merged.to_placement()), parts, sizes, merged))
    screened.sort(key=lambda x: -x[0].attainment)
    for rank, (score, parts, sizes, merged) in enumerate(screened[:max(refine_best, 1)]):
        how = " | ".join(f"{len(p)} models on {n} devices" for p, n in zip(parts, sizes))
        found.append((merged, score, how + " (screened)"))
        if rank >= refine_best or time.perf_counter() > deadline:
            continue
        refined = union_of_parts(problem, parts, sizes, refine=1, cache=cache)
        if refined is not None:
            found.append((refined, problem.score(refined.to_placement()), how))
    found.sort(key=lambda x: -x[1].attainment)
    return found
