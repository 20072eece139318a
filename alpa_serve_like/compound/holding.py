"""Plans that hold under queueing: plan, simulate at the planned demand, tighten, until it holds.

Sized by mean throughput alone, a plan queues at the demand it plans for and misses its SLO
(21-47% simulated violations on the example applications with no headroom). The optimizer's
queueing-aware form (``compound.queueing``: per option, what its pool of instances carries with
the wait tail under the target) ranks plans by an approximation, so the judge is the compound
simulator itself (the shared scheduler, the same admission the live server uses):

1. solve with the step's ``utilization`` (instances loaded to at most that fraction of their
   throughput) and ``latency_headroom`` (an option's latency at most that fraction of its task's
   budget: the rest is room to wait); the maximum-demand form solves the queueing-aware program
   (``HoldOptions.queueing_aware``), the fixed-demand form the throughput-only one;
2. simulate Poisson arrivals for ``sim_duration_s``;
3. fixed demand: per headroom step, utilization steps in turn; the first plan whose violation
   rate is at most ``target_violation_rate`` is the plan. Maximum demand: the plan's held demand
   is the largest at which it meets the target (bisected in simulation over ``[0, capacity]``);
   every headroom step until the SLO no longer fits is tried and the best held plan kept. Budgets
   free to the program are also tried at the even split (``even_split``): the split only sets
   how long each task may wait, which the program does not see, so the simulation keeps
   whichever holds more.

The steps are ours, chosen on the example applications; steps looser than the caller's own
options are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.compound.optimizer import (
    CompoundInfeasible, CompoundPlan, OptimizerOptions, max_demand, min_resources,
)
from alpa_serve_like.compound.simulate import poisson_workload, simulate_compound
from alpa_serve_like.compound.slice_table import SliceOption

HEADROOM_STEPS: tuple[float, ...] = (1.0, 0.8, 0.65, 0.5, 0.4, 0.3)
"""latency_headroom steps, loosest first. The maximum-demand form steps only these: its demand
bisection does what a lower utilization would (load each instance less)."""
UTILIZATION_STEPS: tuple[float, ...] = (1.0, 0.85, 0.7, 0.55, 0.4)
"""utilization steps of the fixed-demand form, tried within each headroom step."""


@dataclass(frozen=True)
class HoldOptions:
    """How ``plan_that_holds`` checks a plan."""

    target_violation_rate: float = 0.01
    """A plan holds when at most this share of simulated requests misses the SLO or is rejected."""
    sim_duration_s: float = 60.0
    """Seconds of Poisson arrivals simulated per check."""
    queueing_aware: bool = True
    """Solve the optimizer's queueing-aware form (``OptimizerOptions.wait_tail_probability``, when
    the caller left it None) with this target split evenly over a request's task invocations (a
    request misses when any invocation waits too long: the union bound)."""
    seed: int = 1
    """Seed of the checked arrivals (``numpy.random.default_rng(seed)``; not the reports' default 0, so a
    reported rate is measured on other arrivals than the check's)."""

    def __post_init__(self):
        if not 0 <= self.target_violation_rate < 1:
            raise ValueError(f"target_violation_rate must be in [0, 1), got {self.target_violation_rate}")
        if not self.sim_duration_s > 0:
            raise ValueError(f"sim_duration_s must be > 0, got {self.sim_duration_s}")


@dataclass(frozen=True)
class HeldPlan:
    """The plan that held, the step that made it and its simulated violation rate."""

    plan: CompoundPlan
    utilization: float
    latency_headroom: float
    violation_rate: float
    tries: int
    """Steps solved and simulated, this one included."""
    holds: bool
    """False when even the strictest step missed the target (then this is that step's plan)."""


def simulated_violation_rate(app: CompoundApp, plan: CompoundPlan, duration_s: float, seed: int) -> float:
    """Share of Poisson requests at ``plan.demand_rps`` that miss the SLO or are rejected."""
    workload = poisson_workload(app, plan.demand_rps, duration_s, np.random.default_rng(seed))
    return simulate_compound(app, plan, workload.arrival_s).slo_violation_rate


def plan_that_holds(app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
                    opts: OptimizerOptions = OptimizerOptions(), demand_rps: float | None = None,
                    hold: HoldOptions = HoldOptions()) -> HeldPlan:
    """A plan that holds in simulation (see the module docstring).

    ``demand_rps`` None: per step of ``HEADROOM_STEPS``, the maximum-demand plan (queueing-aware
    unless ``hold.queueing_aware`` is False) and the
    largest demand at which it holds (bisected in simulation); the best over every step that fits
    is returned with ``demand_rps`` set to its held demand. ``demand_rps`` given: per headroom step, the fewest-slices plans at that demand
    for the ``UTILIZATION_STEPS`` in turn until one holds (or none fits); the first that holds is
    returned, else (``holds`` False) the last plan tried.
    """
    headrooms = [h for h in HEADROOM_STEPS if h <= opts.latency_headroom] or [opts.latency_headroom]
    if demand_rps is not None:
        return _fixed_demand(app, options, num_gpus, opts, demand_rps, hold, headrooms)
    if hold.queueing_aware and opts.wait_tail_probability is None and hold.target_violation_rate > 0:
        invocations = sum(t.fan_out for t in app.tasks)
        opts = replace(opts, wait_tail_probability=hold.target_violation_rate / invocations)
    best, last_error, tries = None, None, 0
    for tries, headroom in enumerate(headrooms, start=1):
        step_opts = replace(opts, latency_headroom=headroom)
        try:
            plan = max_demand(app, options, num_gpus, step_opts)
        except CompoundInfeasible as exc:  # stricter steps only remove room: none after will fit
            last_error = exc
            break
        plan, rate = _held_over_splits(app, plan, hold, opts.fixed_budget_s is None)
        # Every step is tried: a stricter step's plan can hold more after a looser one held less
        # (the held demand is not monotone in the headroom).
        if best is None or plan.demand_rps > best.plan.demand_rps:
            best = HeldPlan(plan, opts.utilization, headroom, rate, tries, rate <= hold.target_violation_rate)
    if best is None:
        raise last_error
    return replace(best, tries=tries)


def _fixed_demand(app, options, num_gpus, opts, demand_rps, hold, headrooms) -> HeldPlan:
    last, last_error, tries = None, None, 0
    for headroom in headrooms:
        fitted = False
        for utilization in [u for u in UTILIZATION_STEPS if u <= opts.utilization] or [opts.utilization]:
            tries += 1
            step_opts = replace(opts, utilization=utilization, latency_headroom=headroom)
            try:
                plan = min_resources(app, options, demand_rps, num_gpus, step_opts)
            except CompoundInfeasible as exc:  # a lower utilization needs still more instances
                last_error = exc
                break
            fitted = True
            rate = simulated_violation_rate(app, plan, hold.sim_duration_s, hold.seed)
            last = HeldPlan(plan, utilization, headroom, rate, tries, rate <= hold.target_violation_rate)
            if last.holds:
                return last
        if not fitted:  # not even full utilization fits this headroom: stricter ones cannot either
            break
    if last is None:
        raise last_error
    return last


def capacity_rps(app: CompoundApp, plan: CompoundPlan) -> float:
    """The demand ``plan``'s instances carry at full load: no demand above it can hold."""
    per_task = {t.name: 0.0 for t in app.tasks}
    for i in plan.instances:
        per_task[i.task] += i.count * i.throughput_rps
    return min(per_task[t.name] / t.fan_out for t in app.tasks)


def even_split(app: CompoundApp, plan: CompoundPlan) -> CompoundPlan | None:
    """``plan`` with every task's budget ``slo_s / (tasks on the longest path)``, or None when a
    chosen latency does not fit that share."""
    share = app.slo_s / max(len(p) for p in app.paths())
    if any(i.latency_s > share + 1e-12 for i in plan.instances):
        return None
    return replace(plan, budget_s_by_task={t.name: share for t in app.tasks})


def _held_over_splits(app: CompoundApp, plan: CompoundPlan, hold: HoldOptions,
                      free_budgets: bool) -> tuple[CompoundPlan, float]:
    """The held demand of ``plan`` under its own budgets and, when they are free, under the even
    split too: the split decides only how long each task may wait, which the program does not
    see, so the simulator picks (the better held; the plan's own on ties)."""
    held = _held_demand(app, plan, hold)
    even = even_split(app, plan) if free_budgets else None
    if even is not None and even.budget_s_by_task != plan.budget_s_by_task:
        other = _held_demand(app, even, hold)
        if other[0].demand_rps > held[0].demand_rps:
            held = other
    return held


def _held_demand(app: CompoundApp, plan: CompoundPlan, hold: HoldOptions,
                 rounds: int = 8) -> tuple[CompoundPlan, float]:
    """``plan`` at the largest demand whose simulated violation rate meets the target, and that
    rate; demand 0 if none of the tried ones does. Bisected over ``[0, capacity]`` to within
    ``capacity / 2**rounds``: the range depends on the instances alone, not on the demand the plan
    was solved for, so equal plans from different systems hold the same demand."""
    low, high = 0.0, capacity_rps(app, plan)
    held = (replace(plan, demand_rps=0.0), 0.0)
    for _ in range(rounds):
        mid = 0.5 * (low + high)
        trial = replace(plan, demand_rps=mid)
        rate = simulated_violation_rate(app, trial, hold.sim_duration_s, hold.seed)
        if rate <= hold.target_violation_rate:
            low, held = mid, (trial, rate)
        else:
            high = mid
    return held
