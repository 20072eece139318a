"""mp-search: AlpaServe's placement search over group partitions with a greedy replica fill.

Source: AlpaServe (OSDI'23) section 4.2, Algorithm 2. Enumerate candidate group partitions
(``partitions.enumerate_partitions``: power-of-two group sizes, every op x pp shape within the
limits, left-over devices as smaller pipelines), fill each greedily using the simulator as scorer
(``greedy.greedy_fill``) and keep the placement with the best attainment on the training workload.

For speed each candidate is first filled with a screening fill that adds about an eighth of the
replicas that will fit per simulation; only the ``options.screen_keep`` best candidates are
re-filled one replica per simulation, as AlpaServe does, and the best of all filled placements wins.

mp-search-budget-<N> is the same search with the refining fills capped at about N simulations
(ceil(estimated replicas / N) replicas per simulation): identical to mp-search while a fill needs
fewer than N replicas, and linear instead of quadratic in the cluster beyond (each simulation
covers traffic that grows with the cluster, and mp-search runs one per replica). A tqdm bar on
stderr shows simulations done and the ETA.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from alpa_serve_like.placement.greedy import estimated_replicas, greedy_fill
from alpa_serve_like.placement.memory import check_models_fit
from alpa_serve_like.placement.partitions import Partition, describe, enumerate_partitions
from alpa_serve_like.placement.problem import PlacementProblem, Score
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


@dataclass
class Candidate:
    partition: Partition
    state: FillState
    score: Score


def candidate_partitions(problem: PlacementProblem) -> list[Partition]:
    """Partitions worth filling: every regular group shape must be usable by at least one model."""
    opts, cluster = problem.options, problem.cluster
    shapes = {c for p in problem.profiles.values() for c in p.configs}
    parts = enumerate_partitions(cluster.num_devices, cluster.devices_per_node, opts.max_op, opts.max_pp, shapes)
    check_models_fit(problem.memory, problem.models, {c for p in parts for c in p})
    useful = [p for p in parts if any(problem.memory.fits_alone(m, p[0]) for m in problem.models)]
    return useful[: opts.max_candidates] if opts.max_candidates else useful


SCREEN_ROUNDS = 8
"""Simulations a screening fill aims at (it adds about 1/8 of the replicas per simulation)."""


def screen_round(problem: PlacementProblem, state: FillState) -> int:
    """Replicas added per simulation in the screening fill of ``state``."""
    return max(1, -(-estimated_replicas(problem, state) // SCREEN_ROUNDS))


def search_partitions(problem: PlacementProblem, partitions: list[Partition],
                      refine: int | None = None, max_fill_sims: int | None = None,
                      progress: str | None = None) -> list[Candidate]:
    """Fill every partition (screen, then exact fill of the ``refine`` best); best candidate first.

    ``max_fill_sims``: the refining fills add ``ceil(estimated replicas / max_fill_sims)`` replicas
    per simulation instead of one (None: one, as AlpaServe). ``progress``: label of a tqdm bar on
    stderr (simulations done of an up-front estimate, ETA); None shows none.
    """
    refine = problem.options.screen_keep if refine is None else refine
    bar = None
    if progress is not None:
        from tqdm import tqdm

        # Counted in simulations (a refining fill costs several screening fills), estimated up front.
        per_refine = max_fill_sims or max((estimated_replicas(problem, FillState(p, problem.memory))
                                           for p in partitions), default=1)
        screen_estimate = len(partitions) * (SCREEN_ROUNDS + 1)
        refine_estimate = min(refine, len(partitions)) * (per_refine + 1)
        bar = tqdm(total=screen_estimate + refine_estimate, desc=progress, unit="sim", file=sys.stderr,
                   mininterval=1.0)
    done = problem.evaluations
    screened = []
    for part in partitions:
        state = FillState(part, problem.memory)
        per_round = screen_round(problem, state)
        state, score = greedy_fill(problem, state, per_round=per_round)
        screened.append((per_round, Candidate(part, state, score)))
        if bar is not None:
            bar.update(problem.evaluations - done)
            done = problem.evaluations
    screened.sort(key=lambda pc: -pc[1].score.attainment)
    if bar is not None:  # the fills ran over or under their estimate: scale the rest alike
        bar.total = bar.n + int(refine_estimate * bar.n / max(screen_estimate, 1))
        bar.refresh()
    refined = []
    for per_round, cand in screened[:refine]:
        state = FillState(cand.partition, problem.memory)
        exact = 1 if max_fill_sims is None else max(1, -(-estimated_replicas(problem, state) // max_fill_sims))
        if per_round > exact:  # otherwise the screening fill was already as fine
            state, score = greedy_fill(problem, state, per_round=exact)
            refined.append(Candidate(cand.partition, state, score))
        if bar is not None:
            bar.update(problem.evaluations - done)
            done = problem.evaluations
    if bar is not None:
        bar.total = bar.n  # the estimate is replaced by what it took
        bar.close()
    everything = [c for _, c in screened] + refined
    everything.sort(key=lambda c: -c.score.attainment)  # stable: screened version wins ties
    return everything


@register_policy("mp-search")
def mp_search(cluster, models, profiles, train_workload, options, rng):
    """AlpaServe search: enumerate group partitions, greedy-fill each by simulation, keep the best."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    best = search_partitions(problem, candidate_partitions(problem))[0]
    return best.state.to_placement({
        "policy": "mp-search", "partition": describe(best.partition),
        "train_attainment": best.score.attainment, "evaluations": problem.evaluations,
        "simulated_requests": problem.simulated_requests,
    })


@register_policy("mp-search-budget", param="max_fill_sims")
def mp_search_budget(cluster, models, profiles, train_workload, options, rng, *, max_fill_sims: int):
    """mp-search whose refining fills use at most about N simulations each; progress bar with ETA."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    best = search_partitions(problem, candidate_partitions(problem), max_fill_sims=max_fill_sims,
                             progress=f"mp-search-budget-{max_fill_sims}")[0]
    return best.state.to_placement({
        "policy": f"mp-search-budget-{max_fill_sims}", "partition": describe(best.partition),
        "train_attainment": best.score.attainment, "evaluations": problem.evaluations,
        "simulated_requests": problem.simulated_requests,
    })
