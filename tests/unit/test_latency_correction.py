"""The online latency correction's fade: a scale drifts back to the profile while nothing is measured."""
import math

import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.scheduling import LatencyCorrection, Scheduler, SchedulingOptions, StageLatencyCache, build_latency_tables
from builders import make_profile


def measured(scale, at_s, half_life_s=2.0):
    """A one-cell correction whose scale is ``scale`` as measured at ``at_s`` (alpha 1, no cap)."""
    corr = LatencyCorrection(1, 1, alpha=1.0, outlier_factor=1e9, half_life_s=half_life_s)
    corr.update(0, 0, scale, 1.0, at_s)
    return corr


def factor_at(corr, now_s):
    corr.set_now(now_s)
    return corr.factor(0, 0)


def test_the_excess_over_the_profile_halves_every_half_life_since_the_measurement():
    corr = measured(3.0, 10.0)
    assert [factor_at(corr, t) for t in (9.0, 10.0, 12.0, 14.0)] == [3.0, 3.0, 2.0, 1.5]
    assert factor_at(measured(0.5, 10.0), 12.0) == 0.75  # a fast stage drifts back up
    assert factor_at(measured(3.0, 10.0, half_life_s=math.inf), 1e6) == 3.0


def test_a_measurement_folds_into_the_faded_scale_and_restarts_the_fade():
    corr = measured(3.0, 0.0, half_life_s=1.0)
    corr.alpha = 0.5
    assert corr.update(0, 0, 1.0, 1.0, 1.0) == pytest.approx(0.5 * 2.0 + 0.5 * 1.0)  # from 2, not from 3
    assert factor_at(corr, 2.0) == pytest.approx(1.25)
    # the outlier cap is on the faded scale too: 2x of 1.25, not of the last measured 1.5
    corr.outlier_factor = 2.0
    assert corr.update(0, 0, 100.0, 1.0, 2.0) == pytest.approx(0.5 * 1.25 + 0.5 * 2.5)


def test_a_scale_no_measurement_set_does_not_fade():
    corr = LatencyCorrection(1, 1, half_life_s=1.0)
    corr.set_scale(0, 0, 3.0)
    assert factor_at(corr, 100.0) == 3.0
    corr.update(0, 0, 3.0, 1.0)  # no time given: folds into the scale as it stands, starts no fade
    assert factor_at(corr, 200.0) == pytest.approx(3.0)


def test_a_half_life_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="half_life_s must be > 0 seconds"):
        LatencyCorrection(1, 1, half_life_s=0.0)


def test_the_scheduler_predicts_with_the_scale_faded_to_its_now():
    # One stage of 1 s measured at 3 s (3x, counted as 2x: scale 1.5) at its finish, t = 3.
    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("a",)),))
    tables = build_latency_tables(placement, ("a",), StageLatencyCache({"a": make_profile("a")}, 1))
    s = Scheduler(tables, SchedulingOptions(), correction=LatencyCorrection(1, 1, alpha=0.5, half_life_s=2.0))
    d = s.route_and_admit(0, 0.0, 100.0)
    s.observe_stage(d.batch_id, 0, 0.0, 3.0)
    s.complete_batch(d.batch_id)
    (at_finish,) = s.candidates(0, 3.0)
    (later,) = s.candidates(0, 5.0)  # one half-life on: 1.25
    assert at_finish.finish_s == pytest.approx(3.0 + 1.5) and later.finish_s == pytest.approx(5.0 + 1.25)
    assert s.route_and_admit(0, 7.0, 100.0).finish_s == pytest.approx(7.0 + 1.125)
