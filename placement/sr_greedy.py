"""sr-greedy: Selective Replication, every device its own group, greedy replica fill.

Source: AlpaServe (Li et al., OSDI'23) section 6 baseline "SR": no model parallelism; replicas are
added one at a time to the model with the most unserved requests in simulation, on the least
loaded device that has memory for it, until nothing fits (``greedy.greedy_fill``).

A model too large for one device (bert-6.7b needs 13.05 GiB against a 13 GiB budget on V100) gets
the fewest devices that hold it, as a pure pipeline (1, 1, k), one such group per large model,
seeded with that model; everything else is single devices. This is our choice, so that SR can run
the same model sets as the model-parallel policies; the greedy may still put small models into
the spare memory of those groups.
"""
from __future__ import annotations

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.placement.greedy import greedy_fill
from alpa_serve_like.placement.memory import PlacementInfeasibleError, check_models_fit
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState

SINGLE = ParallelConfig(1, 1, 1)


def smallest_pipeline(problem: PlacementProblem, model: str) -> ParallelConfig:
    """The (1, 1, k) pipeline with the fewest devices (a power of two) that holds ``model`` alone."""
    k = 1
    while k <= min(problem.options.max_pp, problem.cluster.num_devices):
        if problem.memory.fits_alone(model, ParallelConfig(1, 1, k)):
            return ParallelConfig(1, 1, k)
        k *= 2
    check_models_fit(problem.memory, [model], [ParallelConfig(1, 1, 2 ** i) for i in range(k.bit_length())])
    raise PlacementInfeasibleError(f"model {model!r} fits no pipeline within the cluster")


def fill_single_devices(problem: PlacementProblem) -> FillState:
    """Single-device groups (plus one smallest pipeline per model too large for one), greedily filled."""
    large = [(m, smallest_pipeline(problem, m)) for m in problem.models if not problem.memory.fits_alone(m, SINGLE)]
    used = sum(c.pp for _, c in large)
    if used > problem.cluster.num_devices:
        raise PlacementInfeasibleError(
            f"selective replication: {len(large)} models need more than one device each "
            f"({used} devices in all) but the cluster has {problem.cluster.num_devices}")
    # Largest groups first keeps every pipeline inside a node when blocks are assigned in order.
    large.sort(key=lambda mc: -mc[1].pp)
    state = FillState([c for _, c in large] + [SINGLE] * (problem.cluster.num_devices - used), problem.memory)
    for g, (m, _) in enumerate(large):
        state.add(g, m)
    state, _ = greedy_fill(problem, state)
    return state


@register_policy("sr-greedy")
def sr_greedy(cluster, models, profiles, train_workload, options, rng):
    """Selective replication: one device per group, greedy replica fill by simulation."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    state = fill_single_devices(problem)
    return state.to_placement({"policy": "sr-greedy", "evaluations": problem.evaluations})
