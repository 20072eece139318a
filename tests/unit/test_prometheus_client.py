"""Reading the runtime's counters from a Prometheus text page (no Ray: a page the test writes)."""
from alpa_serve_like.client.prometheus import app_series, app_totals

PAGE = """# HELP ray_alpa_serve_like_requests_total Requests answered
# TYPE ray_alpa_serve_like_requests_total counter
ray_alpa_serve_like_requests_total{application="replay",deployment="C",model="a-0",outcome="ok",replica="r1"} 7.0
ray_alpa_serve_like_requests_total{application="replay",deployment="C",model="b-0",outcome="ok",replica="r1"} 5.0
ray_alpa_serve_like_requests_total{application="replay",deployment="C",model="b-0",outcome="rejected",replica="r1"} 2.0
ray_alpa_serve_like_requests_total{application="calibrate",deployment="C",model="a-0",outcome="ok",replica="r0"} 40.0
ray_alpa_serve_like_slo_met_total{application="replay",deployment="C",model="a-0",replica="r1"} 6.0
ray_alpa_serve_like_slo_met_total{application="replay",deployment="C",model="b-0",replica="r1"} 4.0
ray_alpa_serve_like_group_up{application="replay",deployment="C",group="0",replica="r1"} 1.0
ray_node_cpu_utilization{instance="x"} 3.0
"""


def test_app_series_keeps_only_the_apps_own_samples():
    series = app_series(PAGE, "replay")
    assert len(series) == 6
    assert ("ray_alpa_serve_like_group_up", {"application": "replay", "deployment": "C", "group": "0",
                                            "replica": "r1"}, 1.0) in series
    assert app_series(PAGE, "nothing") == []


def test_app_totals_sum_over_models_and_replicas():
    assert app_totals(app_series(PAGE, "replay")) == {"requests": {"ok": 12, "rejected": 2}, "slo_met": 10}
    assert app_totals(app_series(PAGE, "calibrate")) == {"requests": {"ok": 40}, "slo_met": 0}
