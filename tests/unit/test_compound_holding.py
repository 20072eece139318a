"""Plans that hold under queueing: a plan at 100% load misses, a stricter step holds."""
from __future__ import annotations

import pytest

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.holding import (
    HoldOptions, capacity_rps, plan_that_holds, simulated_violation_rate,
)
from alpa_serve_like.compound.optimizer import min_resources
from alpa_serve_like.compound.slice_table import SliceOption

# One task, one whole-GPU option: 0.1 s per request (10 rps per GPU), SLO 0.3 s.
APP = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=0.3)
OPTIONS = (SliceOption(0, 0, 7, 1, 0.1, 10.0),)
HOLD = HoldOptions(target_violation_rate=0.01, sim_duration_s=60.0, seed=1)


def test_the_raw_plan_at_full_load_misses_and_the_held_one_adds_an_instance():
    raw = min_resources(APP, OPTIONS, 10.0, 4)  # one GPU at 100% load: admission turns many away
    assert raw.gpus_used == 1 and simulated_violation_rate(APP, raw, 60.0, 1) > 0.1
    held = plan_that_holds(APP, OPTIONS, 4, demand_rps=10.0, hold=HOLD)
    # Step 2 (utilization 0.85): ceil(10 / 8.5) = 2 GPUs at half load, which holds.
    assert held.holds and held.tries == 2 and (held.utilization, held.latency_headroom) == (0.85, 1.0)
    assert held.plan.gpus_used == 2 and held.violation_rate <= 0.01


def test_the_maximum_held_demand_is_below_the_capacity_and_holds():
    held = plan_that_holds(APP, OPTIONS, 1, hold=HOLD)
    assert capacity_rps(APP, held.plan) == pytest.approx(10.0)
    assert held.holds and 0 < held.plan.demand_rps < 10.0
    assert held.violation_rate <= 0.01
    assert simulated_violation_rate(APP, held.plan, 60.0, 1) == pytest.approx(held.violation_rate)


def test_hold_options_are_checked():
    with pytest.raises(ValueError, match="target_violation_rate must be in"):
        HoldOptions(target_violation_rate=1.5)
