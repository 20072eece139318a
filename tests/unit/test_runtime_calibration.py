"""Serving calibration from a replay's timing breakdowns, and warm-up trimming in the comparison."""
import math

import numpy as np
import pytest

from alpa_serve_like.client.calibration import calibrate_from_replay
from alpa_serve_like.client.replay import ReplayResult, compare_with_simulator
from alpa_serve_like.core.workload import Workload


def result(latency_ms, server_ms, queue_ms, stages, status=None, arrival_s=None, slo_s=1.0):
    n = len(latency_ms)
    arrival = np.arange(n) * 0.1 if arrival_s is None else np.asarray(arrival_s, dtype=float)
    w = Workload(arrival, np.zeros(n, dtype=int), np.full(n, slo_s), ("bert-tiny-0",))
    status = np.full(n, 200) if status is None else np.asarray(status)
    return ReplayResult(w, arrival.copy(), np.asarray(latency_ms, dtype=float) / 1e3, status, ("",) * n,
                        np.zeros(n, dtype=int), np.ones(n, dtype=int), np.asarray(queue_ms, dtype=float),
                        tuple(stages), np.asarray(server_ms, dtype=float), float(n))


def test_overheads_split_into_proxy_queue_and_per_stage_hops():
    # client 30 ms = proxy 10 + server 20; server 20 = queue 4 + compute 6 + 10 hop ms over 2 stages.
    r = result([30, 30, 30, 90], [20, 20, 20, 80], [4, 4, 4, 4], ["2,4", "2,4", "2,4", "2,4"])
    c = calibrate_from_replay(r)
    assert c.proxy_s == pytest.approx(0.010) and c.queue_s == pytest.approx(0.004)
    assert c.dispatch_overhead_s == pytest.approx(0.014)
    assert c.per_stage_overhead_s == pytest.approx(0.005)  # the 90 ms outlier does not move the median
    assert c.stage_s == {"bert-tiny": pytest.approx((0.002, 0.004))}
    assert c.samples == 4


def test_rejected_and_early_requests_are_left_out():
    r = result([100, 30, 30, 30], [90, 20, 20, 20], [50, 4, 4, 4], ["40", "6", "6", "6"],
               status=[200, 200, 200, 503])
    c = calibrate_from_replay(r, skip_s=0.05)  # drops request 0 (cold start); 3 is a 503
    assert c.samples == 2 and c.stage_s["bert-tiny"] == pytest.approx((0.006,))
    with pytest.raises(ValueError, match="no answered request"):
        calibrate_from_replay(r, skip_s=10.0)


def test_comparison_leaves_the_same_warmup_out_of_both_sides():
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.simulator import SimOptions
    from builders import uniform_stage_profile

    # The first two requests were late live (cold start); the rest met a 50 ms SLO.
    r = result([80, 80, 20, 20, 20, 20], [70] * 2 + [10] * 4, [1] * 6, ["5"] * 6,
               arrival_s=[0.0, 0.1, 1.0, 1.1, 1.2, 1.3], slo_s=0.05)
    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), ("bert-tiny-0",)),))
    profiles = {"bert-tiny-0": uniform_stage_profile("bert-tiny", stage_s=0.01)}
    full = compare_with_simulator(r, placement, profiles, SimOptions())
    assert full["live"] == pytest.approx(4 / 6) and full["simulated"] == pytest.approx(1.0)
    trimmed = compare_with_simulator(r, placement, profiles, SimOptions(warmup_s=0.5))
    assert trimmed["counted_requests"] == 4 and trimmed["live"] == pytest.approx(1.0)
    assert trimmed["difference"] == pytest.approx(0.0) and not math.isnan(trimmed["simulated"])


def test_calibrated_profile_matches_the_served_stages_and_scales_other_depths():
    from alpa_serve_like.client.calibration import calibrated_profile
    from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
    from alpa_serve_like.core.parallel_config import ParallelConfig

    one, two = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)
    p = ModelProfile("bert-tiny", "cpu", {
        one: ConfigProfile(one, {1: (0.004,), 2: (0.006,)}, (100,)),
        two: ConfigProfile(two, {1: (0.002, 0.002), 2: (0.003, 0.003)}, (50, 50))})
    c = calibrated_profile(p, (0.006, 0.002))  # served with pp=2: stage 0 3x, stage 1 1x; total 2x
    assert c.config(two).stage_latency_s[1] == pytest.approx((0.006, 0.002))
    assert c.config(two).stage_latency_s[2] == pytest.approx((0.009, 0.003))
    assert c.config(one).stage_latency_s == {1: pytest.approx((0.008,)), 2: pytest.approx((0.012,))}
    assert c.config(one).weight_bytes == (100,) and c.name == "bert-tiny"
