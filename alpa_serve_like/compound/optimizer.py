"""Joint variant choice, slicing and latency budgeting of a compound application, as one MILP.

Formulation (ours: JigsawServe publishes only its abstract). For application tasks ``t``, the
options ``o`` of ``slice_table`` (variant ``v(o)``, slice size ``k(o)``, MPS level ``m(o)``,
latency ``L_o``, throughput ``R_o``) and the maximal MIG geometries ``g`` (``c[g,k]`` slots of
size ``k``):

* ``x[t,v]`` binary, one variant per task: ``sum_v x[t,v] = 1``;
* ``u[o]`` binary, option allowed: ``u[o] <= x[t,v(o)]`` and ``L_o u[o] <= b[t]``, with ``b[t]``
  the task's latency budget (continuous);
* every root-to-leaf path ``P``: ``sum_{t in P} b[t] <= slo_s`` (graph-aware budgeting);
* ``n[o]`` integer instances, ``n[o] <= N u[o]``; throughput ``sum_o rho R_o n[o] >= f_t D``
  with fan-out ``f_t``, demand ``D`` (rps) and utilisation cap ``rho``;
* accuracy, exact for one variant per task: product composition
  ``sum_t sum_v log(a_v) x[t,v] >= log(A)``; min composition fixes ``x[t,v] = 0`` if ``a_v < A``;
* packing: ``y[g]`` integer GPUs cut as geometry ``g``, ``sum_g y[g] <= G`` and for every size
  ``k``: ``sum_{o: k(o)=k} n[o] <= sum_g c[g,k] y[g]``.

``min_resources`` fixes ``D`` and minimises the compute slices in use (``sum_o k(o) n[o]``);
``max_demand`` maximises ``D`` on ``G`` GPUs, then (second solve) the slices used at that demand.
Both return a ``CompoundPlan``. Ablations restrict the same program (``restrict_options``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.compound.slice_table import (
    COMPUTE_SLICES_PER_GPU, SliceOption, maximal_geometries,
)


class CompoundInfeasible(RuntimeError):
    """No plan meets the SLOs with the given options and GPUs; the message says what to relax."""


@dataclass(frozen=True)
class InstanceCount:
    """``count`` slices of ``compute_slices`` at MPS level ``mps`` running ``model`` for ``task``."""

    task: str
    model: str
    compute_slices: int
    mps: int
    count: int
    latency_s: float
    throughput_rps: float


@dataclass(frozen=True)
class CompoundPlan:
    """What the optimizer chose for one application on one cluster."""

    app: str
    num_gpus: int
    demand_rps: float
    variant_by_task: dict[str, str]
    budget_s_by_task: dict[str, float]
    instances: tuple[InstanceCount, ...]
    geometries: tuple[tuple[tuple[int, ...], int], ...]
    """(slice sizes of one GPU, number of GPUs cut that way)."""
    accuracy: float
    solve_time_s: float
    extra: dict = field(default_factory=dict)

    @property
    def slices_used(self) -> int:
        return int(sum(i.compute_slices * i.count for i in self.instances))

    @property
    def gpus_used(self) -> int:
        return int(sum(n for _, n in self.geometries))

    @property
    def gpu_fraction_used(self) -> float:
        """Compute slices in use over all compute slices of the cluster."""
        return self.slices_used / (COMPUTE_SLICES_PER_GPU * self.num_gpus)

    def to_dict(self) -> dict:
        return {
            "app": self.app, "num_gpus": self.num_gpus, "demand_rps": self.demand_rps,
            "variant_by_task": dict(self.variant_by_task), "budget_s_by_task": dict(self.budget_s_by_task),
            "instances": [i.__dict__ for i in self.instances],
            "geometries": [{"slices": list(g), "gpus": n} for g, n in self.geometries],
            "accuracy": self.accuracy, "slices_used": self.slices_used, "gpus_used": self.gpus_used,
            "gpu_fraction_used": self.gpu_fraction_used, "solve_time_s": self.solve_time_s, **self.extra,
        }


@dataclass(frozen=True)
class OptimizerOptions:
    """Knobs of the program; the defaults are the full optimizer."""

    utilization: float = 1.0
    """rho: instances are planned to at most this fraction of their throughput (headroom for queueing)."""
    fixed_budget_s: dict | None = None
    """Task -> budget (seconds); None lets the program split the SLO (graph-aware budgeting)."""
    time_limit_s: float = 60.0


def min_resources(app: CompoundApp, options: tuple[SliceOption, ...], demand_rps: float,
                  num_gpus: int, opts: OptimizerOptions = OptimizerOptions()) -> CompoundPlan:
    """The plan using the fewest compute slices that serves ``demand_rps`` on ``num_gpus`` GPUs."""
    if not demand_rps > 0:
        raise ValueError(f"demand_rps must be > 0, got {demand_rps}")
    return _solve(app, options, num_gpus, opts, demand_rps=demand_rps)


def max_demand(app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
               opts: OptimizerOptions = OptimizerOptions()) -> CompoundPlan:
    """The plan serving the largest demand on ``num_gpus`` GPUs (fewest slices among those)."""
    t0 = time.perf_counter()
    first = _solve(app, options, num_gpus, opts, demand_rps=None)
    # Second solve: the cheapest plan at (just under, for solver tolerance) the best demand.
    best = first.demand_rps * (1 - 1e-7)
    try:
        plan = _solve(app, options, num_gpus, opts, demand_rps=best)
    except CompoundInfeasible:
        plan = first
    return CompoundPlan(plan.app, plan.num_gpus, first.demand_rps, plan.variant_by_task,
                        plan.budget_s_by_task, plan.instances, plan.geometries, plan.accuracy,
                        time.perf_counter() - t0, plan.extra)


class _Index:
    """Column numbers of the program's variables."""

    def __init__(self, app: CompoundApp, options, geometries):
        self.x = {}
        col = 0
        for ti, task in enumerate(app.tasks):
            for vi in range(len(task.variants)):
                self.x[ti, vi] = col
                col += 1
        self.u = list(range(col, col + len(options)))
        col += len(options)
        self.n = list(range(col, col + len(options)))
        col += len(options)
        self.b = list(range(col, col + len(app.tasks)))
        col += len(app.tasks)
        self.y = list(range(col, col + len(geometries)))
        col += len(geometries)
        self.d = col
        self.size = col + 1


def _solve(app: CompoundApp, options, num_gpus: int, opts: OptimizerOptions,
           demand_rps: float | None) -> CompoundPlan:
    if num_gpus < 1:
        raise ValueError(f"num_gpus must be >= 1, got {num_gpus}")
    t0 = time.perf_counter()
    geoms = maximal_geometries()
    sizes = sorted({k for g in geoms for k in g})
    ix = _Index(app, options, geoms)
    n_max = COMPUTE_SLICES_PER_GPU * num_gpus
    lo = np.zeros(ix.size)
    hi = np.full(ix.size, np.inf)
    integrality = np.zeros(ix.size)
    rows, lb, ub = [], [], []

    def row(coeffs: dict[int, float], low: float, high: float) -> None:
        rows.append(coeffs)
        lb.append(low)
        ub.append(high)

    for col in list(ix.x.values()) + ix.u:
        hi[col] = 1
        integrality[col] = 1
    for col in ix.n + ix.y:
        integrality[col] = 1
    for ti, task in enumerate(app.tasks):
        row({ix.x[ti, vi]: 1.0 for vi in range(len(task.variants))}, 1, 1)
        budget = (opts.fixed_budget_s or {}).get(task.name)
        lo[ix.b[ti]], hi[ix.b[ti]] = (budget, budget) if budget is not None else (0.0, app.slo_s)
        if app.composition == "min":
            for vi, v in enumerate(task.variants):
                if v.accuracy < app.accuracy_slo:
                    hi[ix.x[ti, vi]] = 0
    for oi, o in enumerate(options):
        row({ix.u[oi]: 1.0, ix.x[o.task, o.variant]: -1.0}, -np.inf, 0)
        row({ix.u[oi]: o.latency_s, ix.b[o.task]: -1.0}, -np.inf, 0)
        row({ix.n[oi]: 1.0, ix.u[oi]: -float(n_max)}, -np.inf, 0)
        hi[ix.n[oi]] = n_max
    name_to_index = {t.name: i for i, t in enumerate(app.tasks)}
    for path in app.paths():
        row({ix.b[name_to_index[t]]: 1.0 for t in path}, -np.inf, app.slo_s)
    for ti, task in enumerate(app.tasks):
        coeffs = {ix.n[oi]: opts.utilization * o.throughput_rps for oi, o in enumerate(options) if o.task == ti}
        if demand_rps is None:
            coeffs[ix.d] = -float(task.fan_out)
            row(coeffs, 0, np.inf)
        else:
            row(coeffs, task.fan_out * demand_rps, np.inf)
    if app.composition == "product" and app.accuracy_slo > 0:
        row({ix.x[ti, vi]: math.log(v.accuracy) for ti, t in enumerate(app.tasks)
             for vi, v in enumerate(t.variants)}, math.log(app.accuracy_slo) - 1e-12, np.inf)
    for k in sizes:
        coeffs = {ix.n[oi]: 1.0 for oi, o in enumerate(options) if o.compute_slices == k}
        for gi, g in enumerate(geoms):
            if g.count(k):
                coeffs[ix.y[gi]] = -float(g.count(k))
        row(coeffs, -np.inf, 0)
    row({col: 1.0 for col in ix.y}, 0, num_gpus)
    if demand_rps is not None:
        hi[ix.d] = 0

    slices = np.zeros(ix.size)
    for oi, o in enumerate(options):
        slices[ix.n[oi]] = o.compute_slices
    if demand_rps is None:
        cost = np.zeros(ix.size)
        cost[ix.d] = -1.0
    else:
        cost = slices
    a = lil_matrix((len(rows), ix.size))
    for r, coeffs in enumerate(rows):
        for col, val in coeffs.items():
            a[r, col] = val
    res = milp(cost, constraints=LinearConstraint(a.tocsr(), lb, ub), integrality=integrality,
               bounds=Bounds(lo, hi), options={"time_limit": opts.time_limit_s})
    solve_s = time.perf_counter() - t0
    if res.x is None:
        raise CompoundInfeasible(_infeasible_message(app, num_gpus, demand_rps, res.message))
    xs = res.x
    choice = {}
    for (ti, vi), col in ix.x.items():
        if xs[col] > 0.5:
            choice[app.tasks[ti].name] = app.tasks[ti].variants[vi]
    instances = tuple(
        InstanceCount(app.tasks[o.task].name, app.tasks[o.task].variants[o.variant].model, o.compute_slices,
                      o.mps, int(round(xs[ix.n[oi]])), o.latency_s, o.throughput_rps)
        for oi, o in enumerate(options) if round(xs[ix.n[oi]]) > 0
    )
    geometries = tuple((g, int(round(xs[ix.y[gi]]))) for gi, g in enumerate(geoms) if round(xs[ix.y[gi]]) > 0)
    served = float(xs[ix.d]) if demand_rps is None else float(demand_rps)
    return CompoundPlan(
        app=app.name, num_gpus=num_gpus, demand_rps=served,
        variant_by_task={t: v.model for t, v in choice.items()},
        budget_s_by_task={t.name: float(xs[ix.b[i]]) for i, t in enumerate(app.tasks)},
        instances=instances, geometries=geometries, accuracy=app.composed_accuracy(choice),
        solve_time_s=solve_s, extra={"mip_gap": getattr(res, "mip_gap", None), "status": res.message},
    )


def _infeasible_message(app: CompoundApp, num_gpus: int, demand_rps, solver_message: str) -> str:
    need = f"{demand_rps:g} rps" if demand_rps is not None else "any demand"
    return (
        f"application {app.name!r}: no plan serves {need} on {num_gpus} GPUs within slo_s={app.slo_s:g} "
        f"and accuracy_slo={app.accuracy_slo:g} ({solver_message}); add GPUs, lower the demand, relax "
        f"an SLO, or add faster variants"
    )
