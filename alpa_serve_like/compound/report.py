"""The ablation table as rows: one dict per (application, system), shared by the CLI and the
``gen_data_jigsaw`` experiment so both write the same columns."""
from __future__ import annotations

import numpy as np

from alpa_serve_like.compound.app_spec import CompoundApp
from alpa_serve_like.compound.holding import HoldOptions
from alpa_serve_like.compound.optimizer import OptimizerOptions
from alpa_serve_like.compound.simulate import poisson_workload, simulate_compound
from alpa_serve_like.compound.slice_table import SliceOption
from alpa_serve_like.compound.systems import SYSTEMS, compare_systems

COLUMNS: tuple[str, ...] = (
    "app", "system", "gpus", "max_demand_rps", "max_demand_violation_rate", "optimal", "mip_gap",
    "reference_demand_rps", "gpu_fraction_used", "slo_violation_rate", "accuracy", "solve_time_s",
)


def ablation_rows(app: CompoundApp, options: tuple[SliceOption, ...], num_gpus: int,
                  opts: OptimizerOptions = OptimizerOptions(), sim_duration_s: float = 60.0,
                  seed: int = 0, systems: tuple[str, ...] = SYSTEMS, hold: HoldOptions | None = None,
                  progress=None) -> list[dict]:
    """``compare_systems`` (plans that hold, with ``hold``; its checks draw arrivals with
    ``hold.seed``) plus a simulation of each system's maximum-demand plan and reference plan on
    Poisson arrivals at their own demand for ``sim_duration_s`` (0 skips it; arrivals drawn with
    ``seed``, so a check and the reported rate see different arrivals when the seeds differ).
    ``progress`` is passed to ``compare_systems``.

    ``gpu_fraction_used`` and ``slo_violation_rate`` are those of the reference plan,
    ``max_demand_violation_rate`` that of the maximum-demand plan; NaN where a system serves nothing.
    """
    nan = float("nan")

    def violations(plan) -> float:
        if plan is None or plan.demand_rps <= 0 or sim_duration_s <= 0:
            return nan
        workload = poisson_workload(app, plan.demand_rps, sim_duration_s, np.random.default_rng(seed))
        return simulate_compound(app, plan, workload.arrival_s).slo_violation_rate

    rows = []
    for r in compare_systems(app, options, num_gpus, systems, opts, hold, progress):
        p, ref = r.plan, r.reference_plan
        rows.append({
            "app": r.app, "system": r.system, "gpus": num_gpus, "max_demand_rps": r.max_demand_rps,
            "max_demand_violation_rate": violations(p),
            "optimal": p.optimal if p else None, "mip_gap": p.mip_gap if p else nan,
            "reference_demand_rps": ref.demand_rps if ref else nan,
            "gpu_fraction_used": ref.gpu_fraction_used if ref else nan,
            "slo_violation_rate": violations(ref), "accuracy": p.accuracy if p else nan,
            "solve_time_s": (p.solve_time_s + (ref.solve_time_s if ref else 0.0)) if p else nan,
        })
    return rows


def format_tsv(rows: list[dict]) -> str:
    """Rows as TSV text with a header, floats to 4 decimals (3 for rates)."""
    def cell(key, value):
        if value is None:
            return "nan"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            return f"{value:.3f}" if key.endswith("_rps") else f"{value:.4f}"
        return str(value)

    lines = ["\t".join(COLUMNS)] + ["\t".join(cell(k, row[k]) for k in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"
