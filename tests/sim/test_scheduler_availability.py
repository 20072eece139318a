"""The scheduler owns group availability, overheads and doomed requests (fake clock, no Ray)."""
import numpy as np
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.scheduling import (RejectReason, Scheduler, SchedulingOptions, StageLatencyCache,
                                        build_latency_tables)
from alpa_serve_like.simulator.kernel import KernelRun
from alpa_serve_like.simulator.reference import simulate_segment_reference
from builders import make_profile

PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _tables(groups, names=("a",), max_batch_size=1):
    profiles = {m: make_profile(m) for m in names}
    placement = Placement(tuple(GroupPlacement(cfg, tuple(ms)) for cfg, ms in groups))
    return build_latency_tables(placement, names, StageLatencyCache(profiles, max_batch_size))


def _scheduler(groups, max_batch_size=1, **opts):
    return Scheduler(_tables(groups, max_batch_size=max_batch_size),
                     SchedulingOptions(max_batch_size=max_batch_size, **opts))


@pytest.mark.parametrize("routing", ["earliest_finish", "shortest_queue"])
def test_routing_never_picks_a_down_group(routing):
    s = _scheduler([(PP1, "a"), (PP1, "a")], routing=routing)
    assert s.route_and_admit(0, 0.0, 100.0).group == 0
    assert s.mark_down(0) == [0]  # its open batch is forgotten; the caller answers its requests
    # Group 0 now looks idle with nothing outstanding, which is exactly when shortest_queue would
    # have picked it; it must not.
    assert [s.route_and_admit(0, t, 100.0).group for t in (0.1, 0.2, 0.3)] == [1, 1, 1]
    assert [c.group for c in s.candidates(0, 0.4)] == [1]
    assert not s.is_up(0) and s.is_up(1)


def test_all_hosts_down_is_group_down_and_mark_up_restores_fresh_clocks():
    s = _scheduler([(PP2, "a")])
    first = s.route_and_admit(0, 0.0, 100.0)
    s.mark_down(0)
    out = s.route_and_admit(0, 1.0, 100.0)
    assert not out.admitted and out.reason is RejectReason.GROUP_DOWN and out.group == 0
    with pytest.raises(KeyError, match="marked down"):
        s.complete_batch(first.batch_id)
    s.mark_up(0, now_s=5.0)
    d = s.route_and_admit(0, 5.0, 100.0)
    assert d.admitted and d.stage_start_s == (5.0, 5.5) and s.groups[0].outstanding == 1


def test_learned_overheads_enter_predictions_and_admission():
    s = _scheduler([(PP2, "a")])
    s.set_overheads(dispatch_s=0.25, per_stage_s=0.125, response_s=0.5)
    # start 0.25; stages 0.5 + 0.125 each: finish 1.5; the response adds 0.5 for admission only.
    late = s.route_and_admit(0, 0.0, 1.75)
    assert late.reason is RejectReason.SLO and late.predicted_finish_s == 2.0
    d = s.route_and_admit(0, 0.0, 2.0)
    assert d.admitted and d.stage_finish_s == (0.875, 1.5)
    with pytest.raises(ValueError, match="dispatch_s"):
        s.set_overheads(-1.0, 0.0)


def test_doomed_members_and_an_emptied_tail_give_back_their_clocks():
    s = _scheduler([(PP1, "a")], max_batch_size=4)
    s.route_and_admit(0, 0.0, 100.0)  # runs [0, 1]
    queued = s.route_and_admit(0, 0.1, 3.25)  # batch of 1 behind it: [1, 2]
    assert s.route_and_admit(0, 0.2, 100.0).joined  # batch of 2: [1, 3]
    # Dispatched at 1.5 instead of 1.0: everything slips by 0.5 -> finish 3.5, misses 3.25.
    assert s.finish_if_started_s(queued.batch_id, 1.5) == 3.5
    s.shrink_batch(queued.batch_id, 1)
    assert s.groups[0].outstanding == 2 and s.groups[0].tail_size == 1
    s.shrink_batch(queued.batch_id, 1)
    assert s.batch_finish_s(queued.batch_id) is None and s.groups[0].free_s == [1.0]
    later = s.route_and_admit(0, 0.3, 100.0)
    assert not later.joined and later.stage_start_s == (1.0,)
    with pytest.raises(ValueError, match="cannot drop 2"):
        s.shrink_batch(later.batch_id, 2)


@pytest.mark.parametrize("admission", [True, False])
def test_simulators_model_the_dispatch_drop_rule_alike(admission):
    tables = _tables([(PP1, "a")])
    arrival = np.array([0.0, 0.1, 0.2, 3.0])
    deadline = arrival + np.array([5.0, 1.5, 5.0, 5.0])  # request 1 cannot finish before 2.0
    opts = SchedulingOptions(admission=admission, drop_doomed_at_dispatch=True)
    model = np.zeros(4, dtype=np.int64)
    ref = simulate_segment_reference(tables, arrival, model, deadline, opts)
    ker = KernelRun(tables, arrival, model, deadline, opts, False).result()
    code = int(RejectReason.SLO if admission else RejectReason.DOOMED)
    for out in (ref, ker):
        assert out.reason.tolist() == [0, code, 0, 0]
        # No compute was spent on it: request 2 runs right after request 0.
        assert out.batch_start_s.tolist() == [0.0, 1.0, 3.0]
    off = simulate_segment_reference(tables, arrival, model, deadline, SchedulingOptions(admission=False))
    assert off.reason.tolist() == [0, 0, 0, 0] and off.batch_start_s.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_predicted_compute_is_the_corrected_stage_latencies_of_an_open_batch():
    from alpa_serve_like.scheduling.correction import LatencyCorrection

    tables = _tables([(PP2, "a")])
    s = Scheduler(tables, SchedulingOptions(per_stage_overhead_s=0.5), correction=LatencyCorrection(1, 2))
    d = s.route_and_admit(0, 0.0, 100.0)
    profiled = sum(tables.lat_s[0][st][0] for st in range(2))
    assert s.predicted_compute_s(d.batch_id) == pytest.approx(profiled)  # no overheads in it
    s.correction.set_scale(0, 0, 2.0)
    s.correction.set_scale(0, 1, 2.0)
    assert s.predicted_compute_s(d.batch_id) == pytest.approx(2 * profiled)
    s.complete_batch(d.batch_id)
    assert s.predicted_compute_s(d.batch_id) is None
