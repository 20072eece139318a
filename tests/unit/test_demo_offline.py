"""The demo without Ray: traffic from the real trace (or the stand-in), placement, simulation, plot."""
import json

import numpy as np
import pytest

from alpa_serve_like.demo.run import DEMO_MODELS, DemoConfig, run_demo
from alpa_serve_like.demo.traffic import demo_traffic, find_trace_dir

TRACE = find_trace_dir()


@pytest.mark.skipif(TRACE is None, reason="Azure LLM trace not found under ../shared/data")
def test_trace_traffic_is_compressed_to_the_target_rate_and_split_in_four():
    slo = np.full(4, 0.1)
    t = demo_traffic(TRACE, 30.0, 25.0, slo, np.random.default_rng(0), DEMO_MODELS)
    assert t.test.model_names == DEMO_MODELS
    assert 0.5 * 25 < len(t.test) / 30.0 < 1.5 * 25
    assert t.test.arrival_s.min() >= 0 and t.test.arrival_s.max() < 30.0
    assert set(np.unique(t.test.model_id)) == {0, 1, 2, 3}
    # training traffic is the trace before the replayed window
    assert t.train.meta["window_s"][1] == t.test.meta["window_s"][0]
    assert "Azure LLM" in t.source and "STAND-IN" not in t.source


def test_stand_in_is_labelled():
    t = demo_traffic(None, 10.0, 20.0, np.full(4, 0.1), np.random.default_rng(0), DEMO_MODELS)
    assert "SYNTHETIC STAND-IN" in t.source and len(t.test) > 50


def test_offline_demo_writes_placements_summary_and_plot(tmp_path):
    lines = []
    report = run_demo(DemoConfig(out_dir=str(tmp_path), live=False, duration_s=10.0, cluster_scale=False),
                      log=lines.append)
    assert (tmp_path / "placement_sr-greedy.json").exists() and (tmp_path / "placement_mp-search.json").exists()
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["policies"]) == {"sr-greedy", "mp-search"}
    for entry in summary["policies"].values():
        assert entry["live_attainment"] is None and 0.0 <= entry["sim_attainment"] <= 1.0
    assert report.live_error == "" and summary["cluster_scale"] == {}
    assert any(line.startswith("[demo 5/5]") for line in lines)


def test_unsplittable_model_list_is_refused():
    with pytest.raises(ValueError, match="give 4 models"):
        demo_traffic(None, 10.0, 20.0, np.full(3, 0.1), np.random.default_rng(0), ("a", "b", "c"))


@pytest.mark.skipif(TRACE is None, reason="Azure LLM trace not found under ../shared/data")
def test_the_thesis_shows_on_the_trace_in_the_simulator(tmp_path):
    """On the default demo traffic the searched placement uses model parallelism and beats
    replication in the simulator, at demo scale and at cluster scale."""
    report = run_demo(DemoConfig(out_dir=str(tmp_path), live=False), log=lambda line: None)
    sr, mp = report.policies["sr-greedy"], report.policies["mp-search"]
    assert "pp1" in sr.placement and "pp1" not in mp.placement
    assert mp.simulated["attainment"] > sr.simulated["attainment"]
    scale = report.cluster_scale["policies"]
    assert scale["mp-search"]["sim_attainment"] > scale["sr-greedy"]["sim_attainment"] + 0.05


def test_verdict_says_what_the_live_run_can_and_cannot_show():
    from alpa_serve_like.demo.run import DemoReport, PolicyReport, verdict

    def policy(live, served, outcomes):
        return PolicyReport(placement="p", live={"attainment": live, "p50_ms": 40.0, "outcomes": outcomes},
                            simulated={"attainment": served}, simulated_with_overhead={"attainment": served},
                            live_slo_ms=90.0)

    report = DemoReport(policies={"sr-greedy": policy(0.40, 0.993, {"ok": 60, "503:slo": 40}),
                                  "mp-search": policy(0.97, 1.0, {"ok": 97, "503:slo": 1})},
                        cluster_scale={"policies": {"sr-greedy": {"sim_attainment": 0.873},
                                                    "mp-search": {"sim_attainment": 0.96}}})
    lines = verdict(report)
    assert lines[0].startswith("live: mp-search +57.0 points vs sr-greedy") and "predicts +0.7" in lines[0]
    assert "only 0.7 points apart, so the thesis cannot show live here" in lines[1]
    blamed = [line for line in lines if "admission predictions" in line]
    # sr-greedy: 40% turned away explain its 59-point shortfall; mp-search's 3 points are lateness
    assert len(blamed) == 1 and blamed[0].startswith("  sr-greedy: live 59 points below") and "slo 40" in blamed[0]
    assert lines[-1] == ("cluster scale (simulator): mp-search 96.0% vs sr-greedy 87.3%: model parallelism with "
                         "multiplexing wins (+8.7 points) on the real trace.")
