"""Hand-checkable: with bursty traffic, one pipeline shared by all models beats one device each.

4 devices, 4 equal models (1 s per request on one device, split evenly into pipeline stages), a
budget that holds one whole model per device. Traffic: four simultaneous requests of one model at
a time, SLO 2.2 s.
- Selective replication, one model per device: a burst queues on one device, finishing at
  1, 2, 3, 4 s: 2 of 4 meet the SLO -> 50%.
- Two 2-stage pipelines with two models each: finishes 1, 1.5, 2, 2.5 s -> 75%.
- One 4-stage pipeline holding all four models (a quarter of each per device): finishes
  1, 1.25, 1.5, 1.75 s -> 100%. That is the optimum, and mp-search must find it.
Uses the real simulator (skipped until it is importable).
"""
import numpy as np
import pytest

from alpa_serve_like import ClusterSpec, ParallelConfig
from alpa_serve_like.placement import PlacementOptions, place
from builders import make_profile, placement_workload

pytest.importorskip("alpa_serve_like.simulator.scorer")

MODELS = ["a", "b", "c", "d"]


def _case():
    profiles = {m: make_profile(m, weight_bytes=1000) for m in MODELS}
    bursts = {m: [(10.0 * i, 4)] for i, m in enumerate(MODELS)}
    workload = placement_workload({m: 4 for m in MODELS}, slo_s=2.2, bursts=bursts)
    cluster = ClusterSpec(num_devices=4, devices_per_node=4, memory_budget_bytes=1050)
    return cluster, profiles, workload


def test_mp_search_finds_the_shared_pipeline_and_beats_selective_replication():
    cluster, profiles, workload = _case()
    opts = PlacementOptions(max_pp=4)
    mp = place("mp-search", cluster, MODELS, profiles, workload, opts)
    assert [g.config for g in mp.groups] == [ParallelConfig(1, 1, 4)]
    assert set(mp.groups[0].models) == set(MODELS)
    assert mp.meta["train_attainment"] == pytest.approx(1.0)
    from alpa_serve_like.placement.problem import PlacementProblem
    problem = PlacementProblem(cluster, MODELS, profiles, workload, opts)
    sr = place("sr-greedy", cluster, MODELS, profiles, workload, opts)
    assert problem.score(sr).attainment == pytest.approx(0.5)
    two = place("mp-greedy-2", cluster, MODELS, profiles, workload, opts)
    assert problem.score(two).attainment == pytest.approx(0.75)
    ours = place("mp-anneal", cluster, MODELS, profiles, workload, opts.with_(time_budget_s=0.3),
                 np.random.default_rng(0))
    assert problem.score(ours).attainment == pytest.approx(1.0)
