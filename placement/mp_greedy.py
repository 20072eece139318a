"""mp-greedy-G: fixed groups of G devices as pure pipelines (1, 1, G), greedy replica fill.

Source: AlpaServe section 6 ("model parallelism with a fixed group size"): the cluster is cut into
groups of G devices, each a G-stage pipeline; left-over devices form smaller pipeline groups;
replicas are added by ``greedy.greedy_fill``.
"""
from __future__ import annotations

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.placement.greedy import greedy_fill
from alpa_serve_like.placement.memory import check_models_fit
from alpa_serve_like.placement.partitions import remainder_groups
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


@register_policy("mp-greedy", param="group_size")
def mp_greedy(cluster, models, profiles, train_workload, options, rng, *, group_size: int):
    """Groups of G devices as G-stage pipelines, greedy replica fill by simulation."""
    if group_size > cluster.num_devices:
        raise ValueError(f"mp-greedy-{group_size}: group size exceeds the cluster's {cluster.num_devices} devices")
    count, rest = divmod(cluster.num_devices, group_size)
    configs = [ParallelConfig(1, 1, group_size)] * count + remainder_groups(rest, options.max_op, options.max_pp)
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    check_models_fit(problem.memory, problem.models, set(configs))
    state, _ = greedy_fill(problem, FillState(configs, problem.memory))
    return state.to_placement({"policy": f"mp-greedy-{group_size}", "evaluations": problem.evaluations})
