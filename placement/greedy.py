"""The greedy replica fill shared by sr-greedy, mp-greedy-G, mp-search and their descendants.

AlpaServe's fast greedy (its ``replica_placement_fast_greedy``): simulate the current placement on
the training workload, take the model with the most unserved requests and put one more replica of
it on the least-loaded group that can hold it, and repeat until no replica fits anywhere. One
simulation per added replica; ``per_round > 1`` adds that many replicas (distinct models, distinct
groups) per simulation, a cheaper screening variant.

The load of a group is analytic: the sum over its models of (rate / replicas) x bottleneck-stage
time, i.e. the fraction of its pipeline's time the group is expected to be busy. A group whose
config cannot meet the model's SLO even when idle never gets that model.
"""
from __future__ import annotations

import numpy as np

from alpa_serve_like.placement.problem import PlacementProblem, Score
from alpa_serve_like.placement.state import FillState


def group_loads(problem: PlacementProblem, state: FillState) -> np.ndarray:
    """Expected busy fraction of each group under an even split of each model's rate over replicas."""
    reps = state.replicas()
    loads = np.zeros(len(state.configs))
    for g, (config, hosted) in enumerate(zip(state.configs, state.hosted)):
        for m in hosted:
            loads[g] += problem.rates[problem.index[m]] / reps[m] * problem.bottleneck_s(m, config)
    return loads


class _GroupShapes:
    """The distinct configs of a fill's groups and each group's index among them (fixed during a
    fill), so per-model tables are built per distinct config and spread over the groups with one
    array index instead of a Python loop over every group."""

    def __init__(self, configs):
        self.distinct = list(dict.fromkeys(configs))
        position = {c: i for i, c in enumerate(self.distinct)}
        self.of_group = np.array([position[c] for c in configs], dtype=np.int64)


def _best_group(problem: PlacementProblem, state: FillState, model: str, loads: np.ndarray,
                reps: dict[str, int], peaks: np.ndarray, shapes: _GroupShapes) -> int | None:
    share = problem.rates[problem.index[model]] / (reps.get(model, 0) + 1)
    # Least loaded after adding; ties go to the faster pipeline, then the lower index. Keys are
    # cheap and the memory check is not, so groups are checked in key order and the first that
    # can hold the model wins: the same group as checking every group. Groups whose peak bytes
    # plus the model's smallest stage weights exceed the budget cannot hold it and are skipped.
    per_config = np.empty((3, len(shapes.distinct)))
    for i, config in enumerate(shapes.distinct):
        mem = problem.memory.stage_memory(model, config)
        per_config[:, i] = (problem.useful(model, config), problem.bottleneck_s(model, config),
                            0 if mem is None else int(mem.weight_bytes.min()))
    useful, bottleneck, least = per_config[:, shapes.of_group]
    candidates = np.flatnonzero((useful > 0) & (peaks + least <= problem.memory.budget_bytes))
    key = loads[candidates] + share * bottleneck[candidates]
    for i in np.lexsort((candidates, bottleneck[candidates], key)):
        if state.can_add(int(candidates[i]), model):
            return int(candidates[i])
    return None


def estimated_replicas(problem: PlacementProblem, state: FillState) -> int:
    """Rough number of replicas that will fit: total memory over the mean model's smallest footprint."""
    sizes = []
    for m in problem.models:
        need = [problem.memory.alone_bytes(m, c) * c.op * c.pp for c in set(state.configs)
                if problem.memory.alone_bytes(m, c) is not None]
        if need:
            sizes.append(min(need))
    total = sum(c.op * c.pp for c in state.configs) * problem.memory.budget_bytes
    return max(1, int(total / max(np.mean(sizes), 1.0))) if sizes else 1


def greedy_fill(problem: PlacementProblem, state: FillState, per_round: int = 1,
                max_rounds: int | None = None) -> tuple[FillState, Score]:
    """Fill ``state`` in place until nothing fits; return it and the score of the final placement."""
    rounds = 0
    shapes = _GroupShapes(state.configs)
    # The fill only adds, so a model no group can take now never fits again: skip it from then on.
    placeable = np.ones(len(problem.models), dtype=bool)
    while True:
        score = problem.score(state.to_placement())
        if max_rounds is not None and rounds >= max_rounds:
            return state, score
        reps = state.replicas()
        loads = group_loads(problem, state)
        peaks = np.array([u.peak_bytes for u in state.usage], dtype=np.float64)
        rate_per_replica = np.array([problem.rates[i] / (reps.get(m, 0) + 1) for i, m in enumerate(problem.models)])
        # Most unserved first; among equals the model with the most traffic per replica.
        order = np.lexsort((np.arange(len(problem.models)), -rate_per_replica, -score.unserved))
        added = 0
        for i in order[placeable[order]]:
            model = problem.models[i]
            g = _best_group(problem, state, model, loads, reps, peaks, shapes)
            if g is None:
                placeable[i] = False
                continue
            state.add(g, model)
            peaks[g] = state.usage[g].peak_bytes
            loads[g] += problem.rates[i] / (reps.get(model, 0) + 1) * problem.bottleneck_s(model, state.configs[g])
            reps[model] = reps.get(model, 0) + 1
            added += 1
            if added >= per_round:
                break
        if added == 0:
            return state, score
        rounds += 1
