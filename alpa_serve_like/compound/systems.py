"""The full optimizer and its ablations, by name: each restricts the same MILP's inputs.

* ``jigsaw``: every variant, every slice type and MPS level, graph-aware latency budgets;
* ``no-variants``: each task keeps only its most accurate variant;
* ``no-partitioning``: whole GPUs only (7-slice instances, MPS level 1);
* ``even-budget``: each task's latency budget is fixed to ``slo_s / (tasks on the longest
  root-to-leaf path)``, so every path fits the SLO without looking at the tasks' latencies;
* ``per-model``: all three restrictions at once, a stand-in for a per-model serving system that
  knows no task graph (each task is one model with its own share of the SLO, on whole GPUs). It
  is not AlpaServe's placement algorithm (no model parallelism or multiplexing here).

The names follow issue 15; how each ablation is realised is ours.

With plans checked by simulation (``hold``), ``jigsaw`` is a simulate-and-keep-best search over
candidate plans from its own space: its own held plan (the MILP's pick per headroom step) and the
held plans of the sub-spaces in ``JIGSAW_SUBSPACES`` (the ablations' restrictions, each a subset
of jigsaw's inputs); it keeps whichever holds the most demand. The MILP's queueing estimate is
not exact, so it can rank a plan of its own space below its pick although that plan holds more:
on ``compound compare examples/compound_xr_chain.json ... --gpus 8`` before this search, jigsaw's
own pick held 22.95 rps and the whole-GPU plan 23.26 rps.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, get_args

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.compound.holding import HoldOptions, plan_that_holds
from alpa_serve_like.compound.optimizer import (
    CompoundInfeasible, CompoundPlan, OptimizerOptions, max_demand, min_resources,
)
from alpa_serve_like.compound.slice_table import SliceOption
from alpa_serve_like.core import mig

REFERENCE_SHARE = 0.5
"""The reference demand, at which the systems' GPU resources are compared, is this share of the
best system's maximum demand."""

System = Literal["jigsaw", "no-variants", "no-partitioning", "even-budget", "per-model"]
SYSTEMS: tuple[str, ...] = get_args(System)
JIGSAW_SUBSPACES: tuple[str, ...] = ("no-partitioning", "no-variants", "even-budget", "per-model")
"""Restrictions of jigsaw's own space whose held plans its search also simulates (``held_maximum``)."""


def system_inputs(system: str, app: CompoundApp, options: tuple[SliceOption, ...],
                  opts: OptimizerOptions = OptimizerOptions()
                  ) -> tuple[CompoundApp, tuple[SliceOption, ...], OptimizerOptions]:
    """The (application, options, optimizer options) the named system optimizes over."""
    if system == "jigsaw":
        return app, options, opts
    if system == "no-variants":
        return only_most_accurate(app, options) + (opts,)
    if system == "no-partitioning":
        return app, tuple(o for o in options if o.compute_slices == mig.COMPUTE_SLICES and o.mps == 1), opts
    if system == "even-budget":
        share = app.slo_s / max(len(p) for p in app.paths())
        return app, options, replace(opts, fixed_budget_s={t.name: share for t in app.tasks})
    if system == "per-model":
        for restriction in ("no-variants", "no-partitioning", "even-budget"):
            app, options, opts = system_inputs(restriction, app, options, opts)
        return app, options, opts
    raise ValueError(f"unknown system {system!r}; choose from {list(SYSTEMS)}")


def only_most_accurate(app: CompoundApp, options: tuple[SliceOption, ...]
                       ) -> tuple[CompoundApp, tuple[SliceOption, ...]]:
    """``app`` with one variant per task (the most accurate, first on ties), options re-indexed."""
    keep = {ti: max(range(len(t.variants)), key=lambda vi: (t.variants[vi].accuracy, -vi))
            for ti, t in enumerate(app.tasks)}
    tasks = tuple(replace(t, variants=(t.variants[keep[ti]],)) for ti, t in enumerate(app.tasks))
    kept = tuple(replace(o, variant=0) for o in options if o.variant == keep[o.task])
    return replace(app, tasks=tasks), kept


def held_maximum(system: str, app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
                 opts: OptimizerOptions, hold: HoldOptions,
                 known: dict[str, CompoundPlan | CompoundInfeasible] | None = None
                 ) -> tuple[CompoundPlan, str]:
    """The named system's held maximum-demand plan and the space it came from (the system's name,
    or for ``jigsaw`` the sub-space of ``JIGSAW_SUBSPACES`` whose plan held the most demand; its
    own on ties). ``known`` caches each space's held plan (or its ``CompoundInfeasible``) by
    name, so a comparison solves each space once. Raises ``CompoundInfeasible`` when no candidate
    space fits."""
    known = {} if known is None else known

    def held(name: str) -> CompoundPlan | CompoundInfeasible:
        if name not in known:
            sys_app, sys_options, sys_opts = system_inputs(name, app, options, opts)
            try:
                known[name] = plan_that_holds(sys_app, sys_options, num_gpus, sys_opts, None, hold).plan
            except CompoundInfeasible as exc:
                known[name] = exc
        return known[name]

    # With budgets the caller fixed, the even split is not a restriction of jigsaw's space.
    subspaces = [n for n in JIGSAW_SUBSPACES
                 if opts.fixed_budget_s is None or n not in ("even-budget", "per-model")]
    candidates = [system] + (subspaces if system == "jigsaw" else [])
    best: tuple[CompoundPlan, str] | None = None
    for name in candidates:
        plan = held(name)
        if isinstance(plan, CompoundPlan) and (best is None or plan.demand_rps > best[0].demand_rps):
            best = (plan, name)
    if best is None:
        raise held(system)
    return best


@dataclass(frozen=True)
class SystemResult:
    """One row of the ablation table: a system's plans for one application."""

    app: str
    system: str
    num_gpus: int
    plan: CompoundPlan | None
    """The maximum-demand plan; None when the system cannot serve the application at all."""
    reference_plan: CompoundPlan | None = None
    """The fewest-slices plan at the table's reference demand (what every system can serve)."""
    reason: str = ""
    space: str = ""
    """Which space's held plan ``plan`` is (``held_maximum``): the system's own name, or for
    ``jigsaw`` the sub-space whose plan held the most; empty without ``hold``."""

    @property
    def max_demand_rps(self) -> float:
        return self.plan.demand_rps if self.plan else 0.0


def compare_systems(app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
                    systems: tuple[str, ...] = SYSTEMS,
                    opts: OptimizerOptions = OptimizerOptions(),
                    hold: HoldOptions | None = None,
                    progress: Callable[[str], None] | None = None) -> list[SystemResult]:
    """Each system's maximum serviceable demand on ``num_gpus`` GPUs, and the GPU resources each
    needs at a reference demand: ``REFERENCE_SHARE`` of the best system's maximum (systems that
    cannot serve it get no reference plan; none when no system serves any demand). With ``hold``, a system whose fewest-slices plans at
    the reference demand do not hold takes its held maximum-demand plan there. With ``hold``, every plan is one that holds
    in simulation (``holding.plan_that_holds``): the maximum is the held demand. ``progress``, if
    given, is called with a one-line message after each of the ``2 * len(systems)`` steps (each
    system's maximum, then each one's reference plan)."""
    tell = progress or (lambda message: None)
    inputs = {name: system_inputs(name, app, options, opts) for name in systems}
    best: dict[str, CompoundPlan | None] = {}
    spaces: dict[str, str] = {}
    reasons: dict[str, str] = {}
    known: dict[str, CompoundPlan | CompoundInfeasible] = {}
    # ``known`` shares held plans: jigsaw's search solves the ablations' sub-spaces, which their
    # own rows then reuse (and the other way round).
    for name, (sys_app, sys_options, sys_opts) in inputs.items():
        try:
            if hold is None:
                best[name] = max_demand(sys_app, sys_options, num_gpus, sys_opts)
            else:
                best[name], spaces[name] = held_maximum(name, app, options, num_gpus, opts, hold, known)
        except CompoundInfeasible as exc:
            best[name], reasons[name] = None, str(exc)
        kept = f" (kept the {spaces[name]} plan)" if spaces.get(name, name) != name else ""
        tell(f"{app.name} {name}: maximum " + (f"{best[name].demand_rps:.2f} rps{kept}" if best[name] else "none"))
    served = [p.demand_rps for p in best.values() if p is not None and p.demand_rps > 0]
    # Half the best, not the smallest maximum: a near-zero maximum would make the reference
    # trivial, and one near a system's own maximum needs its whole cluster whatever the system.
    reference = REFERENCE_SHARE * max(served) if served else None
    out = []
    for name, (sys_app, sys_options, sys_opts) in inputs.items():
        ref_plan = None
        if reference is not None and best[name] is not None and best[name].demand_rps >= reference:
            try:
                # A hair under the reference so solver tolerance never makes its owner infeasible.
                demand = reference * (1 - 1e-6)
                if hold is None:
                    ref_plan = min_resources(sys_app, sys_options, demand, num_gpus, sys_opts)
                else:
                    held = plan_that_holds(sys_app, sys_options, num_gpus, sys_opts, demand, hold)
                    ref_plan = held.plan if held.holds else None
            except CompoundInfeasible as exc:
                reasons[name] = str(exc)
            if hold is not None and ref_plan is None:
                # No fewest-slices plan held; the maximum-demand plan held at a higher demand.
                ref_plan = replace(best[name], demand_rps=demand)
        tell(f"{app.name} {name}: reference plan " + ("found" if ref_plan is not None else "none"))
        out.append(SystemResult(app.name, name, num_gpus, best[name], ref_plan, reasons.get(name, ""),
                                spaces.get(name, "")))
    return out
