"""mp-round-robin: model-parallel groups filled round-robin, no simulation inside the fill.

Source: AlpaServe's "round robin" placement baseline. For each candidate group partition
(``mp_search.candidate_partitions``), models are dealt to groups in turn (model order, then group
order), skipping a group without memory for the next model, for as many passes as anything still
fits; so every group ends up full. Each filled candidate is simulated once on the training workload
and the best one is kept.
"""
from __future__ import annotations

from alpa_serve_like.placement.mp_search import candidate_partitions
from alpa_serve_like.placement.partitions import Partition, describe
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


def round_robin_fill(problem: PlacementProblem, partition: Partition) -> FillState:
    state = FillState(partition, problem.memory)
    num_groups = len(partition)
    cursor = 0
    placed_any = True
    while placed_any:
        placed_any = False
        for model in problem.models:
            for step in range(num_groups):
                g = (cursor + step) % num_groups
                if state.can_add(g, model):
                    state.add(g, model)
                    cursor = (g + 1) % num_groups
                    placed_any = True
                    break
    return state


@register_policy("mp-round-robin")
def mp_round_robin(cluster, models, profiles, train_workload, options, rng):
    """Deal models to groups round-robin until full, for every partition; keep the best simulated."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    best = None
    for part in candidate_partitions(problem):
        state = round_robin_fill(problem, part)
        score = problem.score(state.to_placement())
        if best is None or score.attainment > best[2].attainment:
            best = (part, state, score)
    part, state, score = best
    return state.to_placement({
        "policy": "mp-round-robin", "partition": describe(part),
        "train_attainment": score.attainment, "evaluations": problem.evaluations,
    })
