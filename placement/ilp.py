"""mp-ilp and sr-ilp: placement as a mixed-integer program solved by HiGHS (scipy.optimize.milp).

Source: the ILP baseline of AlpaServe (its selective-replication ILP, after Clockwork/Nexus-style
formulations), extended to model-parallel groups. For a fixed list of groups:

    binary  p[i,g]   model i has a replica on group g (only where config g meets i's SLO)
    cont.   x[i,g]   share of group g's pipeline time given to model i, 0 <= x <= p
    cont.   a[g,s]   activation bytes reserved on stage s of group g, a >= act[i,g,s] * p[i,g]
    cont.   u[i]     model i's capacity / rate, capped at 1 (the part of its traffic it can carry)
    cont.   t        the worst-served model's capacity / rate

    maximise   t + mean_i u[i] + eps * sum p   (eps: spare memory still buys replicas for bursts)
    subject to sum_i x[i,g] <= 1                               (a pipeline is busy at most always)
               sum_g x[i,g] / bottleneck[i,g] >= t * rate[i]   (capacity of i in requests/s)
               sum_g x[i,g] / bottleneck[i,g] >= u[i] * rate[i]
               sum_i w[i,g,s] p[i,g] + a[g,s] <= budget         (per-device memory, every stage)

After the time limit the best solution found is completed analytically: while memory allows, the
model with the lowest estimated capacity / rate gets a replica on the least-loaded group that can
hold it (large programs often stop with memory left over). Coverage is rewarded (u) rather than
required: when memory is tight, "every model somewhere" is a
bin-packing problem HiGHS may not solve in the time limit, and a placement that drops a model is
still a placement to compare.
The model is fluid: it sees average rates, not bursts, which is exactly why it loses to the
simulation-driven searches on bursty traffic. sr-ilp uses single-device groups; mp-ilp solves one
program per candidate partition (time limit split between them) and keeps the partition whose
solution simulates best on the training workload.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.placement.memory import PlacementInfeasibleError, check_models_fit
from alpa_serve_like.placement.mp_search import candidate_partitions
from alpa_serve_like.placement.partitions import Partition, describe
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints some internal messages straight to file descriptor 1 even with disp=False."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Builder:
    """Sparse constraint rows, appended one at a time."""

    def __init__(self):
        self.rows, self.cols, self.vals, self.lo, self.hi = [], [], [], [], []

    def add(self, cols, vals, lo, hi):
        r = len(self.lo)
        self.rows.extend([r] * len(cols))
        self.cols.extend(cols)
        self.vals.extend(vals)
        self.lo.append(lo)
        self.hi.append(hi)

    def constraint(self, num_vars: int) -> LinearConstraint:
        a = coo_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lo), num_vars)).tocsr()
        return LinearConstraint(a, np.array(self.lo), np.array(self.hi))


def solve_ilp(problem: PlacementProblem, partition: Partition, time_limit_s: float) -> FillState | None:
    """Solve the program for ``partition``; None when HiGHS finds no feasible solution in time."""
    models, memory = problem.models, problem.memory
    pairs = [(i, g) for g, c in enumerate(partition) for i, m in enumerate(models) if problem.useful(m, c)]
    if not pairs:
        return None
    n_pairs = len(pairs)
    stage_cols: dict[tuple[int, int], int] = {}
    col = 2 * n_pairs
    for g, c in enumerate(partition):
        for s in range(c.pp):
            stage_cols[(g, s)] = col
            col += 1
    u_col = col  # u[i] for every model, then t
    t_col, num_vars = col + len(models), col + len(models) + 1
    budget = float(memory.budget_bytes)
    rates = problem.rates
    scale = max(rates.max(), 1e-9)  # keep t * rate in a well-conditioned range

    b = _Builder()
    by_group: dict[int, list[int]] = {}
    by_model: dict[int, list[int]] = {}
    for k, (i, g) in enumerate(pairs):
        by_group.setdefault(g, []).append(k)
        by_model.setdefault(i, []).append(k)
        b.add([n_pairs + k, k], [1.0, -1.0], -np.inf, 0.0)  # x <= p
    for g, ks in by_group.items():
        b.add([n_pairs + k for k in ks], [1.0] * len(ks), -np.inf, 1.0)
        config = partition[g]
        for s in range(config.pp):
            cols, vals = [stage_cols[(g, s)]], [1.0]
            for k in ks:
                mem = memory.stage_memory(models[pairs[k][0]], config)
                cols.append(k)
                vals.append(float(mem.weight_bytes[s]))
                act = float(mem.act_bytes[s])
                if act > 0:
                    b.add([stage_cols[(g, s)], k], [1.0, -act], 0.0, np.inf)
            b.add(cols, vals, -np.inf, budget)
    for i, ks in by_model.items():
        if rates[i] > 0:
            cols = [n_pairs + k for k in ks]
            vals = [1.0 / problem.bottleneck_s(models[i], partition[pairs[k][1]]) / scale for k in ks]
            b.add(cols + [t_col], vals + [-rates[i] / scale], 0.0, np.inf)
            b.add(cols + [u_col + i], vals + [-rates[i] / scale], 0.0, np.inf)
    for i in range(len(models)):
        if rates[i] <= 0:  # no traffic: counts as carried once it has a replica anywhere
            ks = by_model.get(i, [])
            b.add(ks + [u_col + i], [1.0] * len(ks) + [-1.0], 0.0, np.inf)

    c = np.zeros(num_vars)
    c[t_col] = -1.0
    c[u_col: t_col] = -1.0 / len(models)
    c[:n_pairs] = -1e-4 / max(1, n_pairs)  # tie-break towards more replicas without trading t
    integrality = np.zeros(num_vars)
    integrality[:n_pairs] = 1
    upper = np.full(num_vars, np.inf)
    upper[: 2 * n_pairs] = 1.0
    upper[2 * n_pairs: u_col] = budget
    upper[u_col: t_col] = 1.0
    with _quiet_stdout():
        res = milp(c, integrality=integrality, bounds=Bounds(np.zeros(num_vars), upper),
                   constraints=[b.constraint(num_vars)],
                   options={"time_limit": max(0.1, time_limit_s), "mip_rel_gap": 1e-3, "disp": False})
    if res.x is None:
        return None
    state = FillState(partition, memory)
    for k, (i, g) in enumerate(pairs):
        if res.x[k] > 0.5 and state.can_add(g, models[i]):
            state.add(g, models[i])
    complete_analytically(problem, state)
    return state


def complete_analytically(problem: PlacementProblem, state: FillState) -> None:
    """Add replicas (lowest capacity / rate first, least-loaded group) until nothing fits; no simulation."""
    from alpa_serve_like.placement.greedy import group_loads

    while True:
        loads = group_loads(problem, state)
        reps = state.replicas()
        capacity = np.zeros(len(problem.models))
        for g, (config, hosted) in enumerate(zip(state.configs, state.hosted)):
            for m in hosted:
                capacity[problem.index[m]] += 1.0 / problem.bottleneck_s(m, config) / len(hosted)
        need = capacity / np.maximum(problem.rates, 1e-9)
        placed = False
        for i in np.argsort(need, kind="stable"):
            m = problem.models[i]
            groups = [g for g, c in enumerate(state.configs) if state.can_add(g, m) and problem.useful(m, c)]
            if groups:
                share = problem.rates[i] / (reps.get(m, 0) + 1)
                state.add(min(groups, key=lambda g: (loads[g] + share * problem.bottleneck_s(m, state.configs[g]), g)), m)
                placed = True
                break
        if not placed:
            return


def _place(problem: PlacementProblem, partitions: list[Partition], name: str):
    deadline = time.perf_counter() + problem.options.ilp_time_limit_s
    best = None
    for n_left, part in zip(range(len(partitions), 0, -1), partitions):
        share = max(0.1, (deadline - time.perf_counter()) / n_left)
        state = solve_ilp(problem, part, share)
        if state is None:
            continue
        score = problem.score(state.to_placement())
        if best is None or score.attainment > best[2].attainment:
            best = (part, state, score)
    if best is None:
        raise PlacementInfeasibleError(f"{name}: HiGHS found no feasible placement within the time limit "
                                       f"({problem.options.ilp_time_limit_s} s); raise --ilp-time-limit")
    part, state, score = best
    return state.to_placement({"policy": name, "partition": describe(part),
                               "train_attainment": score.attainment, "evaluations": problem.evaluations})


@register_policy("sr-ilp")
def sr_ilp(cluster, models, profiles, train_workload, options, rng):
    """Mixed-integer program (HiGHS) over single-device groups: maximise the worst capacity/rate."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    single = ParallelConfig(1, 1, 1)
    check_models_fit(problem.memory, problem.models, [single])
    return _place(problem, [(single,) * cluster.num_devices], "sr-ilp")


@register_policy("mp-ilp")
def mp_ilp(cluster, models, profiles, train_workload, options, rng):
    """Mixed-integer program (HiGHS) per candidate partition; keep the best simulated solution."""
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    return _place(problem, candidate_partitions(problem), "mp-ilp")
