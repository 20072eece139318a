"""Compound-request simulation: exact timelines on a small graph with fan-out."""
from __future__ import annotations

import numpy as np
import pytest

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.optimizer import CompoundPlan, InstanceCount, min_resources
from alpa_serve_like.compound.simulate import (
    plan_tables, poisson_workload, simulate_compound, task_deadline_offsets_s,
)
from alpa_serve_like.compound.slice_table import SliceOption


def diamond():
    """root -> (c with fan-out 2, d) -> s; one whole-GPU instance each.

    Latencies root 1.0, c 0.5, d 0.3, s 0.2 s; budgets root 1.0, c 1.0, d 0.5, s 0.5 (SLO 2.5).
    Latest finishes: root 2.5 - max(1.0 + 0.5, 0.5 + 0.5) = 1.0, c and d 2.5 - 0.5 = 2.0, s 2.5.
    """
    v = (Variant("m", 0.9),)
    app = CompoundApp("diamond", (Task("root", v), Task("c", v, 2, ("root",)), Task("d", v, 1, ("root",)),
                                  Task("s", v, 1, ("c", "d"))), slo_s=2.5)
    lat = {"root": 1.0, "c": 0.5, "d": 0.3, "s": 0.2}
    plan = CompoundPlan(
        app="diamond", num_gpus=4, demand_rps=1.0, variant_by_task={t: "m" for t in lat},
        budget_s_by_task={"root": 1.0, "c": 1.0, "d": 0.5, "s": 0.5},
        instances=tuple(InstanceCount(t, "m", 7, 1, 1, l, 1 / l) for t, l in lat.items()),
        geometries=(((7,), 4),), accuracy=0.9, solve_time_s=0.0,
    )
    return app, plan


def test_deadline_offsets_leave_the_downstream_budgets():
    app, plan = diamond()
    assert task_deadline_offsets_s(app, plan.budget_s_by_task) == [1.0, 2.0, 2.0, 2.5]


def test_exact_timeline_with_fan_out_and_a_rejection():
    # Request 0 at 0: root 0-1; c twice on one instance 1-1.5, 1.5-2.0; d 1-1.3; s 2.0-2.2.
    # Request 1 at 0.5: root is busy until 1.0, would finish 2.0 > its latest finish 1.5: rejected.
    # Request 2 at 3: same as request 0 shifted by 3: finishes 5.2.
    app, plan = diamond()
    result = simulate_compound(app, plan, np.array([0.0, 0.5, 3.0]))
    np.testing.assert_allclose(result.finish_s, [2.2, np.nan, 5.2])
    assert result.met.tolist() == [True, False, True]
    assert result.slo_violation_rate == pytest.approx(1 / 3)


def test_mps_copies_are_separate_replicas():
    app, plan = diamond()
    root = InstanceCount("root", "m", 7, 2, 1, 1.0, 2.0)
    plan2 = CompoundPlan(plan.app, plan.num_gpus, plan.demand_rps, plan.variant_by_task, plan.budget_s_by_task,
                         (root,) + plan.instances[1:], plan.geometries, plan.accuracy, 0.0)
    assert list(plan_tables(app, plan2).host_ptr) == [0, 2, 3, 4, 5]
    # Now request 1's root runs on the second copy, 0.5-1.5; its c invocations queue behind
    # request 0's (free at 2.0): 2.0-2.5 meets its budgeted 2.5, the second (2.5-3.0) does not.
    result = simulate_compound(app, plan2, np.array([0.0, 0.5]))
    np.testing.assert_allclose(result.finish_s, [2.2, np.nan])


def test_an_optimized_plan_meets_its_slo_under_light_poisson_load():
    v = (Variant("m", 0.9),)
    app = CompoundApp("chain", (Task("a", v), Task("b", v, 2, ("a",))), slo_s=1.0)
    options = (SliceOption(0, 0, 7, 1, 0.1, 10.0), SliceOption(1, 0, 7, 1, 0.1, 10.0))
    plan = min_resources(app, options, 10.0, 8)
    workload = poisson_workload(app, 2.0, 50.0, np.random.default_rng(0))
    result = simulate_compound(app, plan, workload.arrival_s)
    assert result.num_requests == len(workload) > 50
    assert result.slo_violation_rate < 0.05
