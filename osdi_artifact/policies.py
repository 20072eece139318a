"""Running one experiment policy: a registered placement policy, or a fixed grouping.

Registered policies go through ``placement.evaluate.run_policy`` (online ones, Clockwork++, are
handed the evaluation traffic they may read up to "now"). A fixed grouping (AlpaServe's
``mp-equal-<pp>-<op>``, used by the large-model experiment) cuts the cluster into the given group
shapes and fills them with the same greedy replica fill mp-search uses, so the only difference to
the search is that the group partition is not searched.
"""
from __future__ import annotations

import time

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.evaluate import policy_rng, run_policy
from alpa_serve_like.placement.greedy import greedy_fill
from alpa_serve_like.placement.memory import check_models_fit
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import resolve_policy
from alpa_serve_like.placement.state import FillState
from alpa_serve_like.osdi_artifact.suites import PolicySpec


def fixed_group_configs(spec: PolicySpec, num_devices: int) -> list[ParallelConfig]:
    configs = [ParallelConfig(1, op, pp) for count, op, pp in spec.fixed_groups for _ in range(count)]
    used = sum(c.op * c.pp for c in configs)
    if used != num_devices:
        raise ValueError(f"{spec.name}: its groups use {used} devices but the cluster has {num_devices}")
    return configs


def place_fixed(spec: PolicySpec, cluster, models, profiles, train, options: PlacementOptions):
    """Greedy replica fill on the fixed groups of ``spec``."""
    configs = fixed_group_configs(spec, cluster.num_devices)
    problem = PlacementProblem(cluster, models, profiles, train, options)
    check_models_fit(problem.memory, problem.models, set(configs))
    state, score = greedy_fill(problem, FillState(configs, problem.memory))
    return state.to_placement({"policy": spec.name, "train_attainment": score.attainment})


def run(spec: PolicySpec, cluster, models, profiles, train, test, options: PlacementOptions, seed: int):
    """(placement or schedule, solve seconds) of ``spec`` trained on ``train``."""
    if spec.fixed_groups:
        tic = time.perf_counter()
        placement = place_fixed(spec, cluster, models, profiles, train, options)
        return placement, time.perf_counter() - tic
    entry, _ = resolve_policy(spec.name)
    return run_policy(spec.name, cluster, models, profiles, train, options, policy_rng(seed, spec.name),
                      observed=test if entry.online else None)
