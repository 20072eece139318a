"""AlpaServe's own mp-search-sep on one of our placement problems, for ``bench_placement.py``.

The policy (``ModelParallelismSearch(use_separation=True)`` in github.com/alpa-projects/mms,
``alpa_serve/placement_policy/model_parallelism.py``) is imported from a checkout given by its
folder; nothing of it is copied here. It is handed our profiles (dp 1 configs, batch 1), our per-model
SLOs, rates and CV, and our training requests, so it searches on the same requests as our
policies. It counts memory its own way: the weights of the models of a group against the budget,
activations left out (ours also reserves the largest activation of each stage once per group), so
its placement may not fit by our rule; the caller checks. Its placement comes back as our
``Placement``, to be scored by our simulator.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import time


def import_alpaserve(path: str):
    """AlpaServe's modules the policy needs, from the checkout at ``path`` (the folder holding its
    ``alpa_serve`` package); SystemExit naming the folder when they cannot be imported."""
    sys.path.insert(0, os.path.abspath(path))
    try:
        from alpa_serve.placement_policy import base_policy, model_parallelism
        from alpa_serve import profiling
        from alpa_serve.simulator import workload
    except ImportError as exc:
        raise SystemExit(f"cannot import AlpaServe's placement policy from {path}: {exc} (pass the folder "
                         f"holding the alpa_serve package of github.com/alpa-projects/mms)")
    return base_policy, model_parallelism, profiling, workload


def alpaserve_mp_search_sep(path, cluster, models, profiles, train, cv):
    """(placement, wall s, CPU s) of AlpaServe's mp-search-sep trained on ``train``; its own
    progress prints are swallowed. The times include its numba compilation on a cold cache."""
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement

    base_policy, model_parallelism, profiling, workload = import_alpaserve(path)
    rates, slos = train.meta["rates"], train.meta["slo_s"]
    datas = []
    for i, name in enumerate(models):
        para = {}
        for config, prof in profiles[name].configs.items():
            if config.dp == 1 and 1 in prof.stage_latency_s:
                acts = prof.act_bytes.get(1, (0,) * config.pp)
                para[profiling.ParallelConfig(1, config.op, config.pp)] = profiling.LatencyMemData(
                    {1: list(prof.latency_s(1))}, {1: list(acts)},
                    list(prof.weight_bytes))
        datas.append(base_policy.ModelData(name, float(slos[i]), float(rates[i]), float(cv),
                                           profiling.ProfilingResult(name, para, 0.0, 0.0)))
    names = train.model_names
    requests = [workload.Request(names[m], None, float(s), k, {})
                for k, (m, s) in enumerate(zip(train.model_id.tolist(), train.slo_s.tolist()))]
    train_alpa = workload.Workload(train.arrival_s.tolist(), requests)
    env = base_policy.ClusterEnv(cluster.num_devices, cluster.memory_budget_bytes, cluster.devices_per_node)
    policy = model_parallelism.ModelParallelismSearch(use_separation=True, verbose=0)
    tic, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        sol, _ = policy.solve_placement(datas, env, train_alpa)
    wall_s, cpu_s = time.perf_counter() - tic, time.process_time() - cpu
    placement = Placement(tuple(GroupPlacement(ParallelConfig(1, c.op, c.pp), tuple(models[m] for m in group))
                                for c, group in zip(sol.group_configs, sol.group_models)))
    return placement, wall_s, cpu_s
