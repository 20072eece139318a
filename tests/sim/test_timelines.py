"""Hand-computed timelines, asserted exactly (dyadic times, so float arithmetic is exact)."""
import dataclasses

import numpy as np
import pytest

from alpa_serve_like import ParallelConfig, ProfileError
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlacementSchedule
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions, simulate
from alpa_serve_like.core.workload import Workload
from builders import make_profile

BACKENDS = [SimOptions(backend="kernel"), SimOptions(backend="reference")]
PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _workload(arrivals, models, slo_s, names=("a", "b", "c")):
    slo = np.broadcast_to(np.asarray(slo_s, dtype=float), (len(arrivals),))
    return Workload(np.array(arrivals, float), np.array(models), slo.copy(), names)


def _placement(*groups):
    return Placement(tuple(GroupPlacement(cfg, (models,) if isinstance(models, str) else tuple(models))
                           for cfg, models in groups))


def _run(placement, workload, profiles, base, **changes):
    warmup_s = changes.pop("warmup_s", base.warmup_s)
    opts = dataclasses.replace(base, scheduling=SchedulingOptions(**changes), warmup_s=warmup_s)
    return simulate(placement, workload, profiles, opts)


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_three_requests_two_stages_with_overheads(base):
    # Stage latencies 0.25 s and 0.5 s; dispatch 0.125 s; 0.0625 s per stage.
    #  r0: s0 [0.125, 0.4375]  s1 [0.4375, 1.0]
    #  r1: s0 [0.4375, 0.75]   s1 [1.0, 1.5625]   (waits for stage 1)
    #  r2: s0 [0.75, 1.0625]   s1 [1.5625, 2.125]
    profiles = {"a": make_profile("a", stage_latency_s={PP2: {1: [0.25, 0.5]}})}
    w = _workload([0.0, 0.125, 0.25], [0, 0, 0], 4.0, names=("a",))
    r = _run(_placement((PP2, "a")), w, profiles, base, dispatch_overhead_s=0.125, per_stage_overhead_s=0.0625)
    assert r.start_s.tolist() == [0.125, 0.4375, 0.75]
    assert r.finish_s.tolist() == [1.0, 1.5625, 2.125]
    assert r.group.tolist() == [0, 0, 0] and r.attainment == 1.0
    # Bottleneck stage 1 is busy 3 x 0.5625 s over [0, 2.125].
    assert r.group_utilisation[0].tolist() == [3 * 0.5625 / 2.125]
    assert r.latency_percentiles_s((50,))["p50"] == 1.4375


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
@pytest.mark.parametrize("admission", [True, False])
def test_request_predicted_late_is_rejected_only_with_admission(base, admission):
    profiles = {"a": make_profile("a", stage_latency_s={PP2: {1: [0.25, 0.5]}})}
    # Same timeline as above; SLO 1.75 s makes r2's deadline 2.0 < its finish 2.125.
    w = _workload([0.0, 0.125, 0.25], [0, 0, 0], 1.75, names=("a",))
    r = _run(_placement((PP2, "a")), w, profiles, base, admission=admission,
             dispatch_overhead_s=0.125, per_stage_overhead_s=0.0625)
    assert r.attainment == pytest.approx(2 / 3)
    if admission:
        assert r.group.tolist() == [0, 0, -1]
        assert r.reason.tolist() == [0, 0, 1]
        assert np.isnan(r.finish_s[2]) and r.rejected == {"slo": 1, "unplaced": 0, "doomed": 0}
    else:
        assert r.finish_s.tolist() == [1.0, 1.5625, 2.125]
        assert r.rejected == {"slo": 0, "unplaced": 0, "doomed": 0}
        assert r.good.tolist() == [True, True, False]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_routing_between_two_groups(base):
    # g0: model a on one device (1 s); g1: a as a 2-stage pipeline (0.5 s + 0.5 s).
    profiles = {"a": make_profile("a")}
    pl = _placement((PP1, "a"), (PP2, "a"))
    w = _workload([0.0, 0.125, 0.25, 1.125], [0, 0, 0, 0], 10.0, names=("a",))
    ef = _run(pl, w, profiles, base)
    # r0: tie (1.0 on both) -> g0.  r1: g1 1.125 < g0 2.0.  r2: g1 (stages [0.625, 1.125],
    # [1.125, 1.625]) 1.625 < g0 2.0.  r3 at 1.125: g0 (idle since 1.0) 2.125; g1 stage 0 [1.125,
    # 1.625], stage 1 [1.625, 2.125] -> tie -> g0.
    assert ef.group.tolist() == [0, 1, 1, 0]
    assert ef.finish_s.tolist() == [1.0, 1.125, 1.625, 2.125]
    sq = _run(pl, w, profiles, base, routing="shortest_queue")
    # r1: g0 has 1 outstanding, g1 none -> g1; r2: one each -> g0 (finish 2.0); r3 at 1.125: r0 done
    # (1.0) and r1 done exactly now (1.125, completion counted first) -> g0 has 1 (r2), g1 has 0 -> g1.
    assert sq.group.tolist() == [0, 1, 0, 1]
    assert sq.finish_s.tolist() == [1.0, 1.125, 2.0, 2.125]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_unplaced_model_is_rejected(base):
    profiles = {"a": make_profile("a")}
    w = _workload([0.0, 0.5], [1, 0], 5.0, names=("a", "b"))
    r = _run(_placement((PP1, "a")), w, profiles, base)
    assert r.reason.tolist() == [2, 0] and r.group.tolist() == [-1, 0]
    assert r.rejected["unplaced"] == 1 and r.per_model_attainment == {"a": 1.0, "b": 0.0}


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_batching_grows_the_queued_tail_batch(base):
    # Batch latencies: 1 -> 1.0 s, 2 -> 1.5 s, 4 -> 2.0 s (3 is interpolated: 1.75 s).
    profiles = {"a": make_profile("a", stage_latency_s={PP1: {1: [1.0], 2: [1.5], 4: [2.0]}})}
    w = _workload([0.0, 0.25, 0.5, 0.75, 0.875, 0.9375, 1.0], [0] * 7, 5.0, names=("a",))
    r = _run(_placement((PP1, "a")), w, profiles, base, max_batch_size=4)
    # r0 runs alone [0, 1]; r1 queues as batch 1 starting at 1.0; r2..r4 join it (sizes 2, 3, 4:
    # finish 2.5, 2.75, 3.0, each earlier than a new batch behind it); r5 finds it full -> batch 2
    # [3, 4]; r6 joins batch 2 -> [3, 4.5] (alone it would finish at 5).
    assert r.batch.tolist() == [0, 1, 1, 1, 1, 2, 2]
    assert r.start_s.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0]
    assert r.finish_s.tolist() == [1.0, 3.0, 3.0, 3.0, 3.0, 4.5, 4.5]
    assert r.group_utilisation[0].tolist() == [(1.0 + 2.0 + 1.5) / 4.5]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_batch_does_not_grow_past_a_members_deadline_or_once_started(base):
    profiles = {"a": make_profile("a", stage_latency_s={PP1: {1: [1.0], 2: [1.5], 4: [2.0]}})}
    # r1's deadline is 0.25 + 2.375 = 2.625: r2 may join (2.5), r3 may not (3.0) and starts batch 2
    # at 2.5 (-> 3.5). r4 arrives at 2.5, exactly when batch 2 starts: too late to join -> [3.5, 4.5].
    w = Workload(np.array([0.0, 0.25, 0.5, 0.75, 2.5]), np.zeros(5, int),
                 np.array([5.0, 2.375, 5.0, 5.0, 5.0]), ("a",))
    r = _run(_placement((PP1, "a")), w, profiles, base, max_batch_size=4)
    assert r.batch.tolist() == [0, 1, 1, 2, 3]
    assert r.finish_s.tolist() == [1.0, 2.5, 2.5, 3.5, 4.5]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_schedule_switches_placement_with_fresh_clocks(base):
    profiles = {m: make_profile(m) for m in "ab"}
    sched = PlacementSchedule(start_s=(0.0, 10.0), segments=(_placement((PP1, "a")), _placement((PP1, "b"), (PP1, "a"))))
    w = _workload([9.5, 9.75, 10.0, 10.0, 10.5], [0, 0, 0, 1, 1], 1.5, names=("a", "b"))
    r = _run(sched, w, profiles, base)
    # Segment 0: r0 [9.5, 10.5], r1 would finish 11.5 > 11.25 -> rejected. Segment 1 starts idle:
    # r2 (a) on group 1 [10, 11]; r3 (b) on group 0 [10, 11]; r4 (b) on group 0 [11, 12], exactly
    # at its deadline 12.0, which is admitted (finish <= deadline).
    assert r.segment.tolist() == [0, 0, 1, 1, 1]
    assert r.group.tolist() == [0, -1, 1, 0, 0]
    assert r.finish_s[[0, 2, 3, 4]].tolist() == [10.5, 11.0, 11.0, 12.0]
    assert r.batch.tolist() == [0, -1, 1, 2, 3]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_warmup_requests_are_simulated_but_not_counted(base):
    profiles = {"a": make_profile("a")}
    w = _workload([0.0, 0.0, 2.0, 3.0], [0, 0, 0, 0], 1.5, names=("a",))
    r = _run(_placement((PP1, "a")), w, profiles, base, warmup_s=1.0)
    assert r.reason.tolist() == [0, 1, 0, 0]  # the 2nd request is still rejected, just not counted
    assert r.measured.tolist() == [False, False, True, True]
    assert r.attainment == 1.0 and r.num_measured == 2 and r.goodput_rps == 2.0


def test_missing_profile_config_names_model_and_config():
    profiles = {"a": make_profile("a")}  # only op=1 configs
    w = _workload([0.0], [0], 1.0, names=("a",))
    with pytest.raises(ProfileError, match=r"group 0 dp1_op2_pp1.*'a'.*dp1_op2_pp1"):
        simulate(_placement((ParallelConfig(1, 2, 1), "a")), w, profiles)
    with pytest.raises(ProfileError, match="'zzz', which has no profile"):
        simulate(_placement((PP1, "zzz")), _workload([0.0], [0], 1.0, names=("zzz",)), profiles)


def test_dataframe_and_summary():
    profiles = {"a": make_profile("a")}
    w = _workload([0.0, 0.0], [0, 0], 1.5, names=("a",))
    r = simulate(_placement((PP1, "a")), w, profiles)
    df = r.to_dataframe()
    assert df["outcome"].tolist() == ["served", "slo"] and df["model"].tolist() == ["a", "a"]
    assert "SLO attainment  50.00%" in r.summary()


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_no_join_when_the_bigger_batch_is_slower_than_running_alone(base):
    # Batch of 2 takes 2.5 s, more than two batches of one: r2 runs alone behind r1.
    profiles = {"a": make_profile("a", stage_latency_s={PP1: {1: [1.0], 2: [2.5]}})}
    w = _workload([0.0, 0.25, 0.5], [0, 0, 0], 5.0, names=("a",))
    r = _run(_placement((PP1, "a")), w, profiles, base, max_batch_size=2)
    assert r.batch.tolist() == [0, 1, 2] and r.finish_s.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("base", BACKENDS, ids=["kernel", "reference"])
def test_linear_batch_latency_still_batches_despite_rounding(base):
    # 0.1 s per request at any batch size: joining ties with running alone (up to float rounding),
    # and ties go to joining.
    profiles = {"a": make_profile("a", stage_latency_s={PP1: {1: [0.1], 2: [0.2], 4: [0.4]}})}
    w = _workload([0.0, 0.01, 0.02, 0.03], [0] * 4, 5.0, names=("a",))
    r = _run(_placement((PP1, "a")), w, profiles, base, max_batch_size=4)
    assert r.batch.tolist() == [0, 1, 1, 1]
    assert r.finish_s[1:] == pytest.approx([0.4] * 3, abs=1e-12)
