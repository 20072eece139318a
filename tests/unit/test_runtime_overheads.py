"""Online overhead estimates (pure arithmetic) and the deployments' result -> HTTP mapping."""
import json

import pytest

from alpa_serve_like.runtime.overheads import OverheadEstimator


def test_overheads_separate_queueing_from_transfer():
    est = OverheadEstimator(alpha=0.5, deviations=2.0)
    # Ready at 0; stage 1 was busy with the previous batch until 1.5, so only 0.25 s of its wait is
    # overhead; the controller saw the result 0.5 s after the last stage ended.
    est.observe(0.0, [0.125, 1.75], [1.0, 2.0], [0.0, 1.5], 2.5)
    assert (est.dispatch.mean_s, est.hop.mean_s, est.response.mean_s) == (0.125, 0.25, 0.5)
    assert est.dispatch_s == 0.125  # predictions are the expected values, the noise goes to the margin
    est.observe(10.0, [10.375, 11.0], [10.5, 11.5], [2.0, 2.0], 11.5)
    # dispatch: mean 0.125 + 0.5 * (0.375 - 0.125); deviation 0.0625 + 0.5 * (0.25 - 0.0625)
    assert est.dispatch.mean_s == pytest.approx(0.25) and est.dispatch.deviation_s == pytest.approx(0.15625)
    assert est.hop.mean_s == pytest.approx(0.375) and est.response.mean_s == pytest.approx(0.25)
    assert est.snapshot()["hop"]["samples"] == 2
    with pytest.raises(ValueError, match="alpha"):
        OverheadEstimator(alpha=0.0)


def test_the_way_back_is_predicted_like_the_response_hop_not_like_the_way_in():
    est = OverheadEstimator(alpha=0.5, deviations=0.0)
    est.observe_ingress(0.02)
    est.observe_ingress(0.04)  # the client's send queue and Serve's routing: spent before admission
    est.observe(0.0, [0.001], [0.011], [0.0], 0.013)
    assert est.ingress_s == pytest.approx(0.03) and est.snapshot()["ingress"]["samples"] == 2
    assert est.egress_s == est.response_s == pytest.approx(0.002)


def test_the_margin_adds_the_deviations_in_quadrature_not_each_components_bound():
    est = OverheadEstimator(alpha=1.0, deviations=2.0, outlier_deviations=None)
    # alpha 1: each deviation is the last |sample - previous mean|: dispatch 0.003, response 0.004
    est.observe(0.0, [0.001], [0.011], [0.0], 0.012)
    est.observe(1.0, [1.004], [1.014], [0.0], 1.019)
    assert est.dispatch.deviation_s == pytest.approx(0.003) and est.response.deviation_s == pytest.approx(0.004)
    # dispatch, the response hop (as the pp=1 per-stage overhead), the response again for the way out
    assert est.margin_s == pytest.approx(2.0 * (0.003 ** 2 + 3 * 0.004 ** 2) ** 0.5)
    assert est.margin_s < 2.0 * (0.003 + 3 * 0.004)  # the old per-component bounds, summed
    with pytest.raises(ValueError, match="deviations"):
        OverheadEstimator(deviations=-1.0)


def test_estimates_fade_while_nothing_comes_back():
    est = OverheadEstimator(half_life_s=0.5)
    assert est.fade(100.0) == 1.0  # nothing learned yet
    est.observe(0.0, [0.1], [0.2], [0.0], 0.3)
    assert est.fade(0.3) == 1.0 and est.fade(0.8) == 0.5 and est.fade(1.3) == 0.25


@pytest.mark.parametrize("result, status, retry", [
    ({"outcome": "ok", "output": {}}, 200, None),
    ({"outcome": "not_found", "reason": "unknown_model"}, 404, None),
    ({"outcome": "rejected", "reason": "slo"}, 503, "3"),
    ({"outcome": "rejected", "reason": "doomed"}, 503, "3"),
    ({"outcome": "failed", "reason": "group_failed"}, 503, "3"),
    ({"outcome": "failed", "reason": "stage_error"}, 500, None),
])
def test_results_map_to_http_with_retry_after_on_503(result, status, retry):
    from alpa_serve_like.controllers.http_common import result_response

    resp = result_response(result, retry_after_s=3)
    assert resp.status_code == status and resp.headers.get("retry-after") == retry
    assert "outcome" not in json.loads(resp.body)


@pytest.mark.parametrize("header, expected", [
    (None, 100.0), ("t=99.5", 99.5), ("99.25", 99.25), ("t=100.5", 100.0), ("t=10", 100.0), ("t=abc", 100.0),
])
def test_arrival_is_the_client_send_time_when_plausible(header, expected):
    from starlette.requests import Request

    from alpa_serve_like.controllers.http_common import arrival_time_s

    headers = [] if header is None else [(b"x-request-start", header.encode())]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    assert arrival_time_s(request, 100.0) == expected


def test_noisy_compute_widens_the_margin_but_not_the_expected_values():
    est = OverheadEstimator(alpha=1.0, deviations=2.0)
    est.observe(0.0, [0.0], [0.01], [0.0], 0.01)
    quiet = est.margin_s
    est.observe_compute(0.010, 0.010)
    est.observe_compute(0.016, 0.010)  # contention: 6 ms over the corrected prediction
    assert est.compute.deviation_s == pytest.approx(0.006)
    assert est.margin_s == pytest.approx(2.0 * ((quiet / 2.0) ** 2 + 0.006 ** 2) ** 0.5)
    assert est.dispatch_s == 0.0 and est.response_s == 0.0


def test_the_margin_becomes_the_residual_quantile_once_enough_requests_came_back():
    est = OverheadEstimator(alpha=1.0, deviations=2.0, quantile=0.9, window=20, window_s=5.0, min_residuals=10)
    est.observe(0.0, [0.001], [0.011], [0.0], 0.012)  # response 1 ms: the quadrature margin stands in
    assert est.residual_quantile_s(0.012) is None and est.snapshot()["residual"]["in_use"] is False
    fallback = est.after_last_stage_s(0.012, per_stage_s=0.001)
    assert fallback == pytest.approx(0.001 + 0.001 + est.margin_s - 0.001)
    for ms in range(1, 11):  # 1..10 ms late, one request each
        est.observe_residual(0.012, ms / 1e3)
    assert est.residual_quantile_s(0.012) == pytest.approx(0.009)  # the 9th of 10
    assert est.after_last_stage_s(0.012, per_stage_s=0.001) == pytest.approx(0.009 + est.egress_s)
    est.observe_residual(1.0, -0.005, requests=20)  # a batch of 20 early ones fills the window
    assert est.residual_quantile_s(1.0) == pytest.approx(-0.005) and len(est.residuals) == 20
    with pytest.raises(ValueError, match="quantile"):
        OverheadEstimator(quantile=1.0)


def test_old_residuals_leave_the_window_so_a_stall_cannot_lock_admission_out():
    est = OverheadEstimator(quantile=0.99, window_s=5.0, min_residuals=3)
    est.observe_residual(10.0, 0.4, requests=3)  # a 400 ms stall: the margin covers it for now
    assert est.residual_quantile_s(12.0) == pytest.approx(0.4)
    est.observe_residual(14.0, 0.002)
    assert est.residual_quantile_s(15.5) is None  # the stall is older than 5 s: 1 residual left
    assert [r for _, r in est.residuals] == [0.002]


def test_residuals_longer_than_the_room_of_the_slo_stay_out_of_its_margin():
    from alpa_serve_like.scheduling import SchedulingOptions

    est = OverheadEstimator(quantile=0.99, window_s=5.0)
    est.observe_residual(10.0, 0.43, requests=3)  # a stall of the machine: late whatever admission did
    assert est.residual_quantile_s(10.1, slo_s=0.08) is None  # the quadrature margin stands in
    est.observe_residual(10.2, 0.002, requests=20, latency_s=0.05)
    assert est.residual_quantile_s(10.5, slo_s=0.08) == pytest.approx(0.002)
    assert est.residual_quantile_s(10.5, slo_s=1.0) == pytest.approx(0.43)  # a margin can cover it there
    assert est.residual_quantile_s(10.5) == pytest.approx(0.43)
    # room of an 80 ms SLO: 80 - 50 (the best predicted latency) - 1 (the way back) = 29 ms
    est.observe(10.0, [10.001], [10.011], [0.0], 10.012)  # response 1 ms
    assert est.room_s(0.08) == pytest.approx(0.029)
    est.observe_residual(10.3, 0.028)
    est.observe_residual(10.3, 0.031)
    assert est.residual_quantile_s(10.5, slo_s=0.08) == pytest.approx(0.028)
    response_s = est.scheduler_overheads(10.5, SchedulingOptions(), slo_s=0.08)[2]
    assert response_s == pytest.approx(est.fade(10.5) * (0.028 + 0.001))
    assert est.snapshot()["residual"]["for_slo_ms"] == 80.0
    est.observe_residual(10.4, 0.0, latency_s=0.02)  # a shorter predicted latency: more room
    assert est.room_s(0.08) == pytest.approx(0.059) and est.residual_quantile_s(10.5, 0.08) == pytest.approx(0.031)
    est.residual_quantile_s(15.45)  # 5 s on, both predicted latencies have left the window
    assert est.room_s(0.08) == pytest.approx(0.079)


def test_a_stall_moves_the_expected_overheads_by_its_bound_and_a_lasting_change_still_moves_them():
    def dispatch_mean_s(samples_s, **kwargs):
        est = OverheadEstimator(alpha=0.1, **kwargs)
        for i, d in enumerate(samples_s):
            est.observe(float(i), [i + d], [i + d + 0.01], [-1.0], i + d + 0.011)
        return est.dispatch.mean_s

    quiet = [0.0015 + 0.0005 * (i % 2) for i in range(20)]
    assert dispatch_mean_s(quiet + [0.355]) < 0.004  # one 355 ms dispatch of a machine stall
    assert dispatch_mean_s(quiet + [0.355], outlier_deviations=None) > 0.03
    assert dispatch_mean_s(quiet + [0.010] * 25) > 0.008  # 10 ms from now on: learned in ~25 batches
    with pytest.raises(ValueError, match="outlier_deviations"):
        OverheadEstimator(outlier_deviations=0.0)
