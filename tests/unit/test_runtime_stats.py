"""RuntimeStats: outcome counts, attainment (rejections count as misses) and percentiles."""
import math

import pytest

from alpa_serve_like.runtime.stats import RuntimeStats


def test_attainment_counts_rejected_and_failed_requests_as_misses():
    st = RuntimeStats(["a", "b"])
    st.record("a", "ok", 0.010, deadline_met=True)
    st.record("a", "ok", 0.030, deadline_met=False)
    st.record("a", "rejected")
    st.record("b", "failed")
    assert st.attainment("a") == pytest.approx(1 / 3)
    assert st.attainment("b") == 0.0
    assert st.attainment() == pytest.approx(1 / 4)
    snap = st.snapshot()
    assert snap["models"]["a"]["requests"] == 3 and snap["models"]["a"]["rejected"] == 1
    assert snap["models"]["a"]["latency_ms"]["p50"] == pytest.approx(20.0)
    assert snap["models"]["b"]["latency_ms"]["count"] == 0


def test_no_requests_means_no_attainment_and_unknown_outcomes_fail():
    st = RuntimeStats(["a"])
    assert math.isnan(st.attainment()) and st.snapshot()["attainment"] is None
    with pytest.raises(ValueError, match="outcome must be one of"):
        st.record("a", "lost")


def test_batches_and_stage_times_are_summarised_per_group():
    st = RuntimeStats(["a"])
    st.record_batch(1, 4, [0.002, 0.004])
    st.record_batch(1, 2, [0.004, 0.006])
    snap = st.snapshot()
    assert snap["batches"]["1"] == {"batches": 2, "mean_size": 3.0}
    assert snap["stage_compute_ms"]["1"]["1"]["mean"] == pytest.approx(5.0)
