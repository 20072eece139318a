"""The shared routing/admission module on a fake clock (no simulator loop, no Ray)."""
import numpy as np
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.scheduling import (
    LatencyCorrection,
    RejectReason,
    Scheduler,
    SchedulingOptions,
    StageLatencyCache,
    build_latency_tables,
    register_routing,
    resolve_routing,
)
from alpa_serve_like.scheduling.routing import registry
from alpa_serve_like.simulator import SimOptions, simulate
from alpa_serve_like.core.workload import Workload
from builders import make_profile

PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _scheduler(groups, names=("a", "b"), max_batch_size=1, correction=False, **opts):
    profiles = {m: make_profile(m) for m in names}
    placement = Placement(tuple(GroupPlacement(cfg, tuple(ms)) for cfg, ms in groups))
    tables = build_latency_tables(placement, names, StageLatencyCache(profiles, max_batch_size))
    corr = LatencyCorrection(len(tables.replica_group), tables.lat_s.shape[1], alpha=0.5) if correction else None
    return Scheduler(tables, SchedulingOptions(max_batch_size=max_batch_size, **opts), correction=corr)


def test_tables_list_hosts_in_group_order_and_pad_batches():
    profiles = {m: make_profile(m, batch_sizes=(1, 2, 4)) for m in "ab"}
    placement = Placement((GroupPlacement(PP2, ("b", "a")), GroupPlacement(PP1, ("a",))))
    t = build_latency_tables(placement, ("a", "b", "c"), StageLatencyCache(profiles, 5))
    assert t.host_ptr.tolist() == [0, 2, 3, 3]
    assert t.replica_group.tolist() == [0, 1, 0] and t.num_stages.tolist() == [2, 1]
    # make_profile: b * 1.0 s split evenly over stages; batch 3 interpolated; 5 beyond the profile.
    assert t.lat_s[0, :, :].tolist() == [[0.5, 1.0, 1.5, 2.0, np.inf]] * 2
    assert t.lat_s[1, 0, :4].tolist() == [1.0, 2.0, 3.0, 4.0] and t.lat_s[1, 1, 0] == 0.0
    # Below the smallest profiled size: padded up to it.
    only_big = {"a": make_profile("a", batch_sizes=(2, 4))}
    t2 = build_latency_tables(Placement((GroupPlacement(PP1, ("a",)),)), ("a",), StageLatencyCache(only_big, 4))
    assert t2.lat_s[0, 0].tolist() == [2.0, 2.0, 3.0, 4.0]


def test_decision_commits_stage_times_and_rejections_say_why():
    s = _scheduler([(PP2, "a")], dispatch_overhead_s=0.25)
    d = s.route_and_admit(0, now_s=1.0, deadline_s=10.0)
    assert d.admitted and (d.group, d.batch_id, d.joined) == (0, 0, False)
    assert d.stage_start_s == (1.25, 1.75) and d.stage_finish_s == (1.75, 2.25)
    assert s.groups[0].free_s == [1.75, 2.25] and s.groups[0].outstanding == 1
    late = s.route_and_admit(0, now_s=1.0, deadline_s=2.5)  # would finish 2.75
    assert not late.admitted and late.reason is RejectReason.SLO
    assert (late.group, late.predicted_finish_s) == (0, 2.75)
    assert s.groups[0].free_s == [1.75, 2.25]  # a rejection commits nothing
    nowhere = s.route_and_admit(1, now_s=1.0, deadline_s=10.0)
    assert nowhere.reason is RejectReason.UNPLACED and nowhere.group == -1


def test_completion_updates_outstanding_for_shortest_queue():
    s = _scheduler([(PP1, "a"), (PP1, "a")], routing="shortest_queue")
    first = s.route_and_admit(0, 0.0, 100.0)
    assert s.route_and_admit(0, 0.0, 100.0).group == 1
    assert [c.outstanding for c in s.candidates(0, 0.5)] == [1, 1]
    s.complete_batch(first.batch_id)
    assert s.route_and_admit(0, 0.5, 100.0).group == 0
    with pytest.raises(KeyError, match="not open"):
        s.complete_batch(first.batch_id)


def test_observed_stage_times_move_clocks_and_scale_latencies():
    s = _scheduler([(PP2, "a")], correction=True)
    d = s.route_and_admit(0, 0.0, 100.0)  # stages [0, 0.5], [0.5, 1.0]
    s.observe_stage(d.batch_id, 0, 0.0, 1.5)  # stage 0 took 1.5 s, 3x the profile: counts as 2x
    assert s.groups[0].free_s[0] == 1.5
    assert s.correction.factor(d.replica, 0) == pytest.approx(0.5 * 1 + 0.5 * 2)
    # Next request: stage 0 starts when it is really free (1.5) and is predicted 1.5x slower (0.75 s).
    (cand,) = s.candidates(0, 0.0)
    assert cand.finish_s == pytest.approx(1.5 + 0.75 + 0.5)
    # An observation of a batch that already completed is ignored.
    s.complete_batch(d.batch_id)
    s.observe_stage(d.batch_id, 1, 0.0, 50.0)
    assert s.groups[0].free_s[1] == 1.0


def test_sealed_batch_does_not_grow():
    s = _scheduler([(PP1, "a")], max_batch_size=4)
    s.route_and_admit(0, 0.0, 100.0)  # runs [0, 1]
    queued = s.route_and_admit(0, 0.5, 100.0)  # batch 1 waits for 1.0
    assert s.route_and_admit(0, 0.6, 100.0).joined
    s.seal_batch(queued.batch_id)
    later = s.route_and_admit(0, 0.7, 100.0)
    assert not later.joined and later.batch_id == queued.batch_id + 1


def test_registry_refuses_duplicates_and_names_known_policies():
    with pytest.raises(ValueError, match="already registered"):
        register_routing("earliest_finish")(lambda c: 0)
    with pytest.raises(ValueError, match=r"unknown routing policy 'fastest'.*earliest_finish, elsa.*last_stage_free, shortest_queue"):
        resolve_routing("fastest")
    with pytest.raises(ValueError, match="dispatch_overhead_s"):
        SchedulingOptions(dispatch_overhead_s=-1.0)
    with pytest.raises(ValueError, match="backend"):
        SimOptions(backend="gpu")


def test_python_only_policy_runs_in_reference_and_is_refused_by_kernel(monkeypatch):
    entry = registry.RoutingEntry("last_group", lambda cands: len(cands) - 1, None, "highest group index")
    monkeypatch.setitem(registry._REGISTRY, "last_group", entry)
    profiles = {"a": make_profile("a")}
    placement = Placement((GroupPlacement(PP1, ("a",)), GroupPlacement(PP1, ("a",))))
    w = Workload(np.array([0.0, 5.0]), np.array([0, 0]), np.array([2.0, 2.0]), ("a",))
    r = simulate(placement, w, profiles, SimOptions(SchedulingOptions(routing="last_group"), backend="reference"))
    assert r.group.tolist() == [1, 1]
    with pytest.raises(ValueError, match="no kernel version"):
        simulate(placement, w, profiles, SimOptions(SchedulingOptions(routing="last_group")))


@pytest.mark.parametrize("discipline", ["srpt", "edf"])
def test_under_srpt_and_edf_routing_is_fewest_outstanding_whatever_routing_says(discipline):
    """The simulator's queue engine routes by outstanding requests under srpt/edf; the runtime's
    scheduler must too, or the two predict different systems."""
    def routed(routing, discipline):
        sched = _scheduler([(PP1, "a"), (PP1, "a")], routing=routing, discipline=discipline, admission=False)
        # a at t=0 runs alone on group 0 (1 s); by t=5 it is finished in time but its batch is not
        # reported complete, so group 0 still has one outstanding request.
        return [sched.route_and_admit(0, t, float("inf")).group for t in (0.0, 5.0)]

    assert routed("earliest_finish", "fcfs") == [0, 0]  # both idle at t=5: tie to the lower group
    assert routed("earliest_finish", discipline) == routed("shortest_queue", discipline) == [0, 1]
    assert routed("last_stage_free", discipline) == [0, 1]
