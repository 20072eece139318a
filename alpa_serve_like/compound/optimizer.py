"""Joint variant choice, slicing and latency budgeting of a compound application, as one MILP.

Formulation (ours: JigsawServe publishes only its abstract). For application tasks ``t``, the
options ``o`` of ``slice_table`` (variant ``v(o)``, slice size ``k(o)``, MPS level ``m(o)``,
latency ``L_o``, throughput ``R_o``) and the maximal MIG geometries ``g`` of ``core.mig`` (``c[g,k]`` slots of
size ``k``):

* ``x[t,v]`` binary, one variant per task: ``sum_v x[t,v] = 1``;
* ``s[t,l]`` binary, "task t's latency budget reaches level l", over the sorted distinct option
  latencies ``lam_1 < lam_2 < ...`` of the task; monotone ``s[t,l+1] <= s[t,l]`` and
  ``b[t] >= sum_l (lam_l - lam_{l-1}) s[t,l]``, with ``b[t]`` the task's latency budget;
* every root-to-leaf path ``P``: ``sum_{t in P} b[t] <= slo_s`` (graph-aware budgeting);
* ``n[o]`` integer instances, usable only for the chosen variant within the budget:
  ``n[o] <= N_o x[t,v(o)]`` and ``n[o] <= N_o s[t,l(o)]`` with ``lam_{l(o)} = L_o``; throughput
  ``sum_o rho R_o n[o] >= f_t D``
  with fan-out ``f_t``, demand ``D`` (rps) and utilisation cap ``rho``;
* accuracy, exact for one variant per task: product composition
  ``sum_t sum_v log(a_v) x[t,v] >= log(A)``; min composition fixes ``x[t,v] = 0`` if ``a_v < A``;
* a task with fan-out ``f`` keeps at least ``f`` model copies (``sum_o m(o) n[o] >= f``), so one
  request's invocations can run side by side as its budget assumes;
* packing: ``y[g]`` integer GPUs cut as geometry ``g``, ``sum_g y[g] <= G`` and for every size
  ``k``: ``sum_{o: k(o)=k} n[o] <= sum_g c[g,k] y[g]``.

Valid cuts tighten the relaxation (an optimal plan never keeps an instance it could drop): per
task, throughput exceeds ``f_t D`` by less than a bounded surplus, and the throughput from one
variant, or from options at budget level >= l, is at most that ceiling times ``x`` or ``s``.
Options that cannot meet the SLOs with any choice for the other tasks are pruned first.

Queueing-aware form (``OptimizerOptions.wait_tail_probability`` set): per option a continuous
``r[o]``, the rate it serves, replaces ``rho R_o n[o]`` in the throughput rows and cuts, with
``r[o] <= rho R_o n[o]`` and ``r[o] <= alpha_j + beta_j n[o]`` for the pieces of the concave bound
of ``compound.queueing`` (what ``n`` instances carry while the wait tail beyond the slack the
headroom leaves stays under the probability). Per-instance usable rate then grows with the pool,
so the program sees that fewer, larger instances queue less at the same throughput.

``min_resources`` fixes ``D`` and minimises the compute slices in use (``sum_o k(o) n[o]``);
``max_demand`` maximises ``D`` on ``G`` GPUs. Both return a ``CompoundPlan``; when the time limit
stops HiGHS first, the plan is the best one found and ``optimal`` is False with the proven
``mip_gap``. Any budgets whose path sums fit the SLO are equally good to the program; the plan
reports canonical ones: each free task's slowest chosen latency, the slack left unsplit (the
simulator's latest-finish deadlines share it along each path).
The ablations of ``systems`` restrict this same program's inputs.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from alpa_serve_like.compound import queueing
from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.compound.slice_table import SliceOption
from alpa_serve_like.core import mig


class CompoundInfeasible(RuntimeError):
    """No plan meets the SLOs with the given options and GPUs; the message says what to relax.

    ``proven`` is False when the solver only ran out of time before finding a plan.
    """

    def __init__(self, message: str, proven: bool = True):
        super().__init__(message)
        self.proven = proven


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
    optimal: bool = True
    """False when the time limit stopped the solver; ``mip_gap`` then bounds how far off it is."""
    mip_gap: float = 0.0

    @property
    def slices_used(self) -> int:
        return int(sum(i.compute_slices * i.count for i in self.instances))

    @property
    def gpus_used(self) -> int:
        return int(sum(n for _, n in self.geometries))

    @property
    def gpu_fraction_used(self) -> float:
        """Compute slices in use over all compute slices of the cluster."""
        return self.slices_used / (mig.COMPUTE_SLICES * self.num_gpus)

    def to_dict(self) -> dict:
        return {
            "app": self.app, "num_gpus": self.num_gpus, "demand_rps": self.demand_rps,
            "variant_by_task": dict(self.variant_by_task), "budget_s_by_task": dict(self.budget_s_by_task),
            "instances": [i.__dict__ for i in self.instances],
            "geometries": [{"slices": list(g), "gpus": n} for g, n in self.geometries],
            "accuracy": self.accuracy, "slices_used": self.slices_used, "gpus_used": self.gpus_used,
            "gpu_fraction_used": self.gpu_fraction_used, "solve_time_s": self.solve_time_s,
            "optimal": self.optimal, "mip_gap": self.mip_gap,
        }


@dataclass(frozen=True)
class OptimizerOptions:
    """Knobs of the program; the defaults are the full optimizer."""

    utilization: float = 1.0
    """rho: instances are planned to at most this fraction of their throughput (headroom for queueing)."""
    fixed_budget_s: dict | None = None
    """Task -> budget (seconds); None lets the program split the SLO (graph-aware budgeting)."""
    latency_headroom: float = 1.0
    """An option may serve a task only if its latency is at most this fraction of the task's
    budget; below 1 leaves room for queueing (the program itself does not model queues)."""
    time_limit_s: float = 25.0
    """HiGHS stops here and returns its best plan (``CompoundPlan.optimal`` False, ``mip_gap`` set)."""
    wait_tail_probability: float | None = None
    """None: instances are sized by throughput alone. Set: each option's served rate is also at most
    what its instances carry while an invocation waits longer than its slack (the budget room
    ``latency_headroom`` leaves, ``latency * (1 / latency_headroom - 1)``, or with ``fixed_budget_s``
    the budget minus the latency) with at most this
    probability, by the pool-size-aware bound of ``compound.queueing``."""


def _check(opts: OptimizerOptions) -> None:
    if not 0 < opts.utilization <= 1:
        raise ValueError(f"utilization must be in (0, 1], got {opts.utilization}")
    if not 0 < opts.latency_headroom <= 1:
        raise ValueError(f"latency_headroom must be in (0, 1], got {opts.latency_headroom}")
    if opts.wait_tail_probability is not None and not 0 < opts.wait_tail_probability < 1:
        raise ValueError(f"wait_tail_probability must be in (0, 1) or None, got {opts.wait_tail_probability}")


def min_resources(app: CompoundApp, options: tuple[SliceOption, ...], demand_rps: float,
                  num_gpus: int, opts: OptimizerOptions = OptimizerOptions()) -> CompoundPlan:
    """The plan using the fewest compute slices that serves ``demand_rps`` on ``num_gpus`` GPUs."""
    if not demand_rps > 0:
        raise ValueError(f"demand_rps must be > 0, got {demand_rps}")
    return _solve(app, options, num_gpus, opts, demand_rps=demand_rps)


def max_demand(app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
               opts: OptimizerOptions = OptimizerOptions()) -> CompoundPlan:
    """The plan serving the largest demand on ``num_gpus`` GPUs, within ``opts.time_limit_s``.

    Only the demand is optimised; the plan's slice count is whatever reaches it (ask
    ``min_resources`` at that demand for the cheapest such plan). When the direct program does not
    finish in 30% of the time limit (large clusters), the rest of the time bisects the demand
    with fixed-demand programs, whose relaxation is much tighter, stopping each at its first plan;
    ``mip_gap`` is then the gap to the best proven bound.
    """
    t0 = time.perf_counter()
    best: CompoundPlan | None = None
    try:
        best = _solve(app, options, num_gpus, replace(opts, time_limit_s=0.3 * opts.time_limit_s), None)
        if best.optimal:
            return best
        bound = best.demand_rps * (1 + best.mip_gap)
    except CompoundInfeasible as exc:
        if exc.proven:
            raise
        bound = _demand_upper_bound(app, prune_options(app, options), num_gpus, opts)
    low = best.demand_rps if best is not None else 0.0
    high = bound
    while True:
        left = opts.time_limit_s - (time.perf_counter() - t0)
        if left < 0.05 * opts.time_limit_s or high - low <= 0.01 * high:
            break
        mid = 0.5 * (low + high) if low > 0 else 0.25 * high
        try:
            found = _solve(app, options, num_gpus, replace(opts, time_limit_s=min(left, 0.3 * opts.time_limit_s)),
                           mid, mip_rel_gap=1.0)
            best, low = found, mid
        except CompoundInfeasible as exc:
            if exc.proven:
                bound = min(bound, mid)
            high = mid
    if best is None:
        raise CompoundInfeasible(_infeasible_message(app, num_gpus, None, "no plan found within the time limit"),
                                 proven=False)
    return replace(best, demand_rps=low, solve_time_s=time.perf_counter() - t0, optimal=False,
                   mip_gap=(bound - low) / low)


class _Index:
    """Column numbers of the program's variables."""

    def __init__(self, app: CompoundApp, options, geometries, queueing: bool):
        self.x = {}
        col = 0
        for ti, task in enumerate(app.tasks):
            for vi in range(len(task.variants)):
                self.x[ti, vi] = col
                col += 1
        # Budget levels: per task, its options' distinct latencies, ascending.
        self.levels = [sorted({o.latency_s for o in options if o.task == ti}) for ti in range(len(app.tasks))]
        self.s = {}
        for ti, lams in enumerate(self.levels):
            for li in range(len(lams)):
                self.s[ti, li] = col
                col += 1
        self.n = list(range(col, col + len(options)))
        col += len(options)
        self.b = list(range(col, col + len(app.tasks)))
        col += len(app.tasks)
        self.y = list(range(col, col + len(geometries)))
        col += len(geometries)
        # Queueing-aware form: the rate each option serves, at most its pool's usable rate.
        self.r = list(range(col, col + len(options))) if queueing else []
        col += len(self.r)
        self.d = col
        self.size = col + 1


def _solve(app: CompoundApp, options, num_gpus: int, opts: OptimizerOptions,
           demand_rps: float | None, mip_rel_gap: float = 1e-4) -> CompoundPlan:
    if num_gpus < 1:
        raise ValueError(f"num_gpus must be >= 1, got {num_gpus}")
    _check(opts)
    t0 = time.perf_counter()
    actual = {}
    if opts.latency_headroom != 1.0:
        # Plan as if every option were 1/headroom slower; report (and simulate) its real latency.
        planned = []
        for o in options:
            p = replace(o, latency_s=o.latency_s / opts.latency_headroom)
            actual[p] = o
            planned.append(p)
        options = tuple(planned)
    options = prune_options(app, options)
    geoms = mig.valid_geometries(maximal_only=True)
    sizes = sorted({k for g in geoms for k in g})
    queueing = opts.wait_tail_probability is not None
    ix = _Index(app, options, geoms, queueing)
    lo = np.zeros(ix.size)
    hi = np.full(ix.size, np.inf)
    integrality = np.zeros(ix.size)
    rows, lb, ub = [], [], []

    def row(coeffs: dict[int, float], low: float, high: float) -> None:
        rows.append(coeffs)
        lb.append(low)
        ub.append(high)

    for col in list(ix.x.values()) + list(ix.s.values()):
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
    demand_bound = demand_rps if demand_rps is not None else _demand_upper_bound(app, options, num_gpus, opts)
    hi[ix.d] = demand_bound
    for oi, o in enumerate(options):
        # The tightest count that can matter: what fits on the cluster and, at a fixed demand, what
        # that demand needs; a small big-M keeps the LP relaxation close to the integer program.
        cap = num_gpus * (mig.COMPUTE_SLICES // o.compute_slices)
        need = app.tasks[o.task].fan_out * demand_bound / (opts.utilization * o.throughput_rps)
        copies = math.ceil(app.tasks[o.task].fan_out / o.mps)  # the side-by-side copies below
        if queueing:
            pieces, need = _usable_rate_pieces(app, o, actual.get(o, o), cap, demand_bound, opts)
            for intercept, slope in pieces:
                row({ix.r[oi]: 1.0, ix.n[oi]: -slope}, -np.inf, intercept)
            row({ix.r[oi]: 1.0, ix.n[oi]: -opts.utilization * o.throughput_rps}, -np.inf, 0)
        cap = min(cap, max(math.ceil(need - 1e-9), copies))
        level = ix.levels[o.task].index(o.latency_s)
        row({ix.n[oi]: 1.0, ix.x[o.task, o.variant]: -float(cap)}, -np.inf, 0)
        row({ix.n[oi]: 1.0, ix.s[o.task, level]: -float(cap)}, -np.inf, 0)
        hi[ix.n[oi]] = cap
    # Monotone levels and the telescoped budget: reaching level l costs lam_l in total, so a
    # fractional s cannot buy a slow option's throughput for a fraction of its latency.
    for ti, lams in enumerate(ix.levels):
        coeffs = {ix.b[ti]: -1.0}
        for li, lam in enumerate(lams):
            coeffs[ix.s[ti, li]] = lam - (lams[li - 1] if li else 0.0)
            if li:
                row({ix.s[ti, li]: 1.0, ix.s[ti, li - 1]: -1.0}, -np.inf, 0)
        row(coeffs, -np.inf, 0)
    name_to_index = {t.name: i for i, t in enumerate(app.tasks)}
    for path in app.paths():
        row({ix.b[name_to_index[t]]: 1.0 for t in path}, -np.inf, app.slo_s)
    def served(oi: int, o: SliceOption) -> dict[int, float]:
        """The rate option ``oi`` serves: its pool's usable rate, or its instances' throughput."""
        return {ix.r[oi]: 1.0} if queueing else {ix.n[oi]: opts.utilization * o.throughput_rps}

    for ti, task in enumerate(app.tasks):
        coeffs = {c: v for oi, o in enumerate(options) if o.task == ti for c, v in served(oi, o).items()}
        if demand_rps is None:
            coeffs[ix.d] = -float(task.fan_out)
            row(coeffs, 0, np.inf)
        else:
            row(coeffs, task.fan_out * demand_rps, np.inf)
    # Valid cuts (an optimal plan never keeps an instance it could drop): a task's throughput
    # exceeds its demand by less than one instance, and the part coming from one variant, or from
    # options at budget level >= l, is at most what x or s allow. They make a fractional variant
    # or budget choice buy only that fraction of the demand.
    for ti, task in enumerate(app.tasks):
        mine = [(oi, o) for oi, o in enumerate(options) if o.task == ti]
        if not mine:
            continue
        # In a minimal plan dropping any instance breaks throughput (so the surplus is under one
        # instance) or breaks the fan-out copies (so there are under fan_out + max MPS instances).
        top = max(opts.utilization * o.throughput_rps for _, o in mine)
        surplus = top * (task.fan_out + max(o.mps for _, o in mine) - 1 if task.fan_out > 1 else 1)
        ceiling = task.fan_out * demand_bound + surplus
        # With queueing the served rates are free below their bounds, so a plan can always serve
        # exactly the demand: the same cuts hold on them.
        coeffs = {c: v for oi, o in mine for c, v in served(oi, o).items()}
        if demand_rps is None:
            row({**coeffs, ix.d: -float(task.fan_out)}, -np.inf, surplus)
        else:
            row(coeffs, -np.inf, ceiling)
        for vi in range(len(task.variants)):
            part = {c: v for oi, o in mine if o.variant == vi for c, v in served(oi, o).items()}
            if part:
                row({**part, ix.x[ti, vi]: -ceiling}, -np.inf, 0)
        for li, lam in enumerate(ix.levels[ti]):
            part = {c: v for oi, o in mine if o.latency_s >= lam for c, v in served(oi, o).items()}
            row({**part, ix.s[ti, li]: -ceiling}, -np.inf, 0)
    # Budgets assume a request's fan-out invocations run side by side: keep that many copies.
    for ti, task in enumerate(app.tasks):
        if task.fan_out > 1:
            row({ix.n[oi]: float(o.mps) for oi, o in enumerate(options) if o.task == ti}, task.fan_out, np.inf)
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
        gpu_weight = 1e-9  # only so idle GPUs are not listed as cut; cannot move D measurably
    else:
        cost = slices
        gpu_weight = 1.0 / (mig.COMPUTE_SLICES * num_gpus + 1)  # all GPUs together < one slice
    cost[ix.y] = gpu_weight
    a = lil_matrix((len(rows), ix.size))
    for r, coeffs in enumerate(rows):
        for col, val in coeffs.items():
            a[r, col] = val
    res = milp(cost, constraints=LinearConstraint(a.tocsr(), lb, ub), integrality=integrality,
               bounds=Bounds(lo, hi), options={"time_limit": opts.time_limit_s, "mip_rel_gap": mip_rel_gap})
    solve_s = time.perf_counter() - t0
    if res.x is None:
        raise CompoundInfeasible(_infeasible_message(app, num_gpus, demand_rps, res.message), proven=res.status == 2)
    xs = res.x
    if demand_rps is None and xs[ix.d] <= 1e-9:
        raise CompoundInfeasible(_infeasible_message(app, num_gpus, None, "the best demand found is 0"),
                                 proven=res.status == 0)
    choice = {}
    for (ti, vi), col in ix.x.items():
        if xs[col] > 0.5:
            choice[app.tasks[ti].name] = app.tasks[ti].variants[vi]
    instances = tuple(
        InstanceCount(app.tasks[o.task].name, app.tasks[o.task].variants[o.variant].model, o.compute_slices,
                      o.mps, int(round(xs[ix.n[oi]])), actual.get(o, o).latency_s, o.throughput_rps)
        for oi, o in enumerate(options) if round(xs[ix.n[oi]]) > 0
    )
    geometries = tuple((g, int(round(xs[ix.y[gi]]))) for gi, g in enumerate(geoms) if round(xs[ix.y[gi]]) > 0)
    served = float(xs[ix.d]) if demand_rps is None else float(demand_rps)
    # Any budgets with path sums <= SLO are optimal to the program, so its own are an arbitrary
    # vertex (ties that held very differently in simulation). The plan's are canonical instead:
    # a free task's budget is its slowest chosen option's real latency and the slack is not split,
    # so an invocation's deadline (the latest finish that leaves its descendants' budgets) is the
    # latest at which the rest of the graph can still finish in time without waiting: the whole
    # slack is shared along the path. On the chain's whole-GPU plan that held 23.26 rps, against
    # 20.77 at the even split and 13.81 with the slack handed out in proportion.
    budgets = {t.name: max(float(xs[ix.b[i]]), 0.0) for i, t in enumerate(app.tasks)}
    for ti, task in enumerate(app.tasks):
        chosen = [actual.get(o, o).latency_s for oi, o in enumerate(options)
                  if o.task == ti and round(xs[ix.n[oi]]) > 0]
        if chosen and task.name not in (opts.fixed_budget_s or {}):
            budgets[task.name] = max(chosen)
    scale = 1.0
    if opts.fixed_budget_s:  # fixed budgets (some tasks) keep the old rule: fill the SLO in proportion
        longest = max(sum(budgets[t] for t in path) for path in app.paths())
        scale = app.slo_s / longest if longest > 0 else 1.0
    return CompoundPlan(
        app=app.name, num_gpus=num_gpus, demand_rps=served,
        variant_by_task={t: v.model for t, v in choice.items()},
        budget_s_by_task={name: b * scale for name, b in budgets.items()},
        instances=instances, geometries=geometries, accuracy=app.composed_accuracy(choice),
        solve_time_s=solve_s, optimal=res.status == 0, mip_gap=float(getattr(res, "mip_gap", 0.0) or 0.0),
    )


def _usable_rate_pieces(app: CompoundApp, planned: SliceOption, real: SliceOption, cap: int,
                        demand_bound: float, opts: OptimizerOptions) -> tuple[list[tuple[float, float]], float]:
    """Lines ``r <= intercept + slope * n`` bounding the rate ``n`` instances of ``real`` serve with
    the wait tail of ``opts`` (``compound.queueing``), and the fewest instances that could serve
    the task's whole demand (bounds ``n``)."""
    task = app.tasks[real.task]
    fan_out = task.fan_out
    budget_s = (opts.fixed_budget_s or {}).get(task.name)
    # The room to wait: a fixed budget's whole rest, else what the headroom reserves (a free
    # budget is at least the planned latency).
    slack_s = planned.latency_s - real.latency_s if budget_s is None else max(budget_s - real.latency_s, 0.0)
    slack_ratio = slack_s / real.latency_s
    counts = queueing.count_breakpoints(cap)
    per_load = real.throughput_rps / real.mps  # one server's rate: one MPS copy
    rates = [per_load * queueing.usable_load(real.mps * n, slack_ratio, opts.wait_tail_probability, fan_out / 2)
             for n in counts]
    target = fan_out * demand_bound
    need = next((n for n, r in zip(counts, rates) if r >= target * (1 - 1e-9)), cap)
    return queueing.concave_pieces(counts, rates), float(need)


def prune_options(app: CompoundApp, options: tuple[SliceOption, ...]) -> tuple[SliceOption, ...]:
    """Drop options no feasible plan can use; the program is smaller and its relaxation tighter.

    An option is useless when its latency plus the fastest options of the other tasks on some path
    through its task exceeds the SLO, or (product composition) when its variant's accuracy times
    the best accuracy of every other task is below the accuracy SLO.
    """
    index = {t.name: i for i, t in enumerate(app.tasks)}
    fastest = [math.inf] * len(app.tasks)
    for o in options:
        fastest[o.task] = min(fastest[o.task], o.latency_s)
    slack = [math.inf] * len(app.tasks)
    for path in app.paths():
        ids = [index[t] for t in path]
        total = sum(fastest[i] for i in ids)
        for i in ids:
            slack[i] = min(slack[i], app.slo_s - (total - fastest[i]))
    best_acc = [max(v.accuracy for v in t.variants) for t in app.tasks]
    keep = []
    for o in options:
        if o.latency_s > slack[o.task] + 1e-12:
            continue
        if app.composition == "product" and app.accuracy_slo > 0:
            acc = app.tasks[o.task].variants[o.variant].accuracy
            rest = math.prod(best_acc) / best_acc[o.task]
            if acc * rest < app.accuracy_slo * (1 - 1e-12):
                continue
        keep.append(o)
    return tuple(keep)


def _demand_upper_bound(app: CompoundApp, options, num_gpus: int, opts: OptimizerOptions) -> float:
    """A demand no plan can exceed: every task at its best throughput per compute slice shares
    the cluster's slices (``D * sum_t f_t / best_t <= 7 G``); bounds the instance counts."""
    best = [0.0] * len(app.tasks)
    for o in options:
        best[o.task] = max(best[o.task], opts.utilization * o.throughput_rps / o.compute_slices)
    if min(best) <= 0:
        return 0.0
    return mig.COMPUTE_SLICES * num_gpus / sum(t.fan_out / b for t, b in zip(app.tasks, best))


def _infeasible_message(app: CompoundApp, num_gpus: int, demand_rps, solver_message: str) -> str:
    need = f"{demand_rps:g} rps" if demand_rps is not None else "any demand"
    return (
        f"application {app.name!r}: no plan serves {need} on {num_gpus} GPUs within slo_s={app.slo_s:g} "
        f"and accuracy_slo={app.accuracy_slo:g} ({solver_message}); add GPUs, lower the demand, relax "
        f"an SLO, or add faster variants"
    )
