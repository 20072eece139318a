"""The cluster simulator under srpt / edf / fcfs queue disciplines at stage granularity.

Hand-computed timelines (dyadic times, asserted exactly), drop-at-dispatch admission, and the
numba kernel against the pure-Python reference on random cases for every discipline.
"""
import dataclasses

import numpy as np
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.scheduling import SchedulingOptions, StageLatencyCache, build_latency_tables
from alpa_serve_like.scheduling.disciplines import discipline_names
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.simulator import SimOptions, simulate
from alpa_serve_like.simulator.discipline_kernel import simulate_segment_discipline_kernel
from alpa_serve_like.simulator.discipline_reference import simulate_segment_discipline_reference
from alpa_serve_like.simulator.kernel import KernelRun
from builders import make_profile
from sim_cases import random_case

PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)
BACKENDS = ["kernel", "reference"]


def _profiles(pp_latencies):
    return {name: make_profile(name, stage_latency_s={cfg: {1: lat} for cfg, lat in by_cfg.items()})
            for name, by_cfg in pp_latencies.items()}


def _sim(cfg, arrivals, models, slo_s, backend, **scheduling):
    profiles = _profiles({"long": {PP1: [1.0], PP2: [0.5, 0.5]}, "short": {PP1: [0.25], PP2: [0.125, 0.125]}})
    w = Workload(np.array(arrivals, float), np.array(models), np.array(slo_s, float), ("long", "short"))
    placement = Placement((GroupPlacement(cfg, ("long", "short")),))
    options = SimOptions(scheduling=SchedulingOptions(**scheduling), backend=backend)
    return simulate(placement, w, profiles, options)


# L0 @0, L1 @0.125, S2 @0.25, S3 @0.375 on one device; long = 1 s, short = 0.25 s.
ONE_DEVICE = dict(arrivals=[0.0, 0.125, 0.25, 0.375], models=[0, 0, 1, 1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("discipline, threshold, finish", [
    ("fcfs", 1e6, [1.0, 2.0, 2.25, 2.5]),
    # t=1: L1 and S2 wait; 'short' is unknown (estimate 0) -> S2; t=1.25: S3 (0.25) < L1 (1.0).
    ("srpt", 1e6, [1.0, 2.5, 1.25, 1.5]),
    # t=1: credits long 0, short 0 < U -> S2; credits +0.5 / -0.5. t=1.25: long's 0.5 >= U -> L1.
    ("srpt", 0.5, [1.0, 2.25, 1.25, 2.5]),
    # U=0: t=1 both credits 0 >= 0, the tie goes to the smaller name 'long' -> L1 first.
    ("srpt", 0.0, [1.0, 2.0, 2.25, 2.5]),
    # SLOs long 10 s, short 3 s: deadlines 10.125 vs 3.25 / 3.375 -> both shorts first.
    ("edf", 1e6, [1.0, 2.5, 1.25, 1.5]),
])
def test_one_device_timelines(backend, discipline, threshold, finish):
    r = _sim(PP1, **ONE_DEVICE, slo_s=[10.0, 10.0, 3.0, 3.0], backend=backend, admission=False,
             discipline=discipline, fairness_threshold=threshold)
    assert r.finish_s.tolist() == finish


@pytest.mark.parametrize("backend", BACKENDS)
def test_srpt_reprioritises_at_each_stage_boundary(backend):
    # pp=2, long 0.5 + 0.5 s, short 0.125 + 0.125 s. L0 @0, L1 @0, S2 @0.25.
    # t=0.5: L0 -> stage 1 [0.5, 1]; stage 0 picks S2 (estimate 0) over L1 (0.5): [0.5, 0.625];
    # L1 stage 0 [0.625, 1.125]; S2 waits for stage 1 until 1.0: [1.0, 1.125]; L1 [1.125, 1.625].
    r = _sim(PP2, [0.0, 0.0, 0.25], [0, 0, 1], [10.0] * 3, backend, admission=False, discipline="srpt")
    assert r.start_s.tolist() == [0.0, 0.625, 0.5]
    assert r.finish_s.tolist() == [1.0, 1.625, 1.125]
    # fcfs for comparison (the decide-at-arrival engine): S2 goes last on both stages.
    f = _sim(PP2, [0.0, 0.0, 0.25], [0, 0, 1], [10.0] * 3, backend, admission=False)
    assert f.finish_s.tolist() == [1.0, 1.5, 1.625]


@pytest.mark.parametrize("backend", BACKENDS)
def test_admission_drops_at_dispatch_when_the_deadline_can_no_longer_be_met(backend):
    # srpt as above with short SLO 1 s: S2 (deadline 1.25) starts at 1 and ends exactly at 1.25;
    # at t=1.25 S3 (deadline 1.375) would end at 1.5 even with no more waiting: dropped, no compute
    # spent; L1 runs [1.25, 2.25].
    kwargs = dict(slo_s=[10.0, 10.0, 1.0, 1.0], backend=backend, discipline="srpt")
    r = _sim(PP1, **ONE_DEVICE, admission=True, **kwargs)
    assert r.reason.tolist() == [0, 0, 0, int(RejectReason.DOOMED)]
    assert r.finish_s[:3].tolist() == [1.0, 2.25, 1.25] and np.isnan(r.finish_s[3])
    assert r.group_utilisation[0].tolist() == [2.25 / 2.25]  # busy 1 + 1 + 0.25 over [0, 2.25]
    # Without admission S3 is served, late.
    late = _sim(PP1, **ONE_DEVICE, admission=False, **kwargs)
    assert late.reason.tolist() == [0, 0, 0, 0] and late.finish_s.tolist() == [1.0, 2.5, 1.25, 1.5]
    assert late.attainment == 0.75


def _random_tables_case(rng):
    placement, workload, profiles, options = random_case(rng)
    seg = placement if isinstance(placement, Placement) else placement.segments[0]
    sched = dataclasses.replace(
        options.scheduling, discipline=str(rng.choice(discipline_names())),
        fairness_threshold=float(rng.choice([1e6, 1.0, 0.5, 0.0])),
        drop_doomed_at_dispatch=bool(rng.random() < 0.3),
        finish_overhead_s=float(rng.choice([0.0, 0.125])))
    tables = build_latency_tables(seg, workload.model_names, StageLatencyCache(profiles, sched.max_batch_size),
                                  sched.pipeline_comm_factor)
    return tables, workload, sched


@pytest.mark.parametrize("jit", [True, False], ids=["compiled", "plain"])
def test_kernel_matches_reference_for_every_discipline(jit):
    rng = np.random.default_rng(20261201)
    seen = {name: 0 for name in discipline_names()}
    stats = {"batched": 0, "doomed": 0, "fairness_fired_cases": 0}
    for case in range(150 if jit else 40):
        tables, w, sched = _random_tables_case(rng)
        args = (tables, w.arrival_s, w.model_id, w.deadline_s, sched)
        fast = simulate_segment_discipline_kernel(*args, jit=jit)
        ref = simulate_segment_discipline_reference(*args)
        where = f"case {case} ({sched})"
        for name in ("group", "reason", "batch", "batch_start_s", "batch_finish_s", "busy_s"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), err_msg=f"{where}: {name}")
        seen[sched.discipline] += 1
        stats["batched"] += int((np.bincount(fast.batch[fast.batch >= 0]) > 1).any()) if (fast.batch >= 0).any() else 0
        stats["doomed"] += int((fast.reason == int(RejectReason.DOOMED)).any())
        stats["fairness_fired_cases"] += int(sched.discipline == "srpt" and sched.fairness_threshold < 1)
    assert all(v >= 5 for v in seen.values()), seen
    assert all(v >= 3 for v in stats.values()), stats


def test_fcfs_in_the_queue_engine_equals_the_decide_at_arrival_engine():
    """One group, batch 1, no admission: stage queues served in arrival order give exactly the
    timelines the FIFO engine predicts at arrival (a check of the queue engine's mechanics)."""
    rng = np.random.default_rng(5)
    checked = 0
    for case in range(60):
        tables, w, sched = _random_tables_case(rng)
        if tables.num_groups != 1:
            continue
        sched = dataclasses.replace(sched, discipline="fcfs", admission=False, drop_doomed_at_dispatch=False,
                                    max_batch_size=1)
        queue = simulate_segment_discipline_kernel(tables, w.arrival_s, w.model_id, w.deadline_s, sched)
        fifo = KernelRun(tables, w.arrival_s, w.model_id, w.deadline_s, sched).result()
        np.testing.assert_array_equal(queue.group, fifo.group)
        np.testing.assert_allclose(queue.batch_finish_s, fifo.batch_finish_s, rtol=0, atol=1e-12)
        checked += 1
    assert checked >= 5


def test_options_name_the_discipline():
    with pytest.raises(ValueError, match="unknown queue discipline 'lifo'"):
        SchedulingOptions(discipline="lifo")
    with pytest.raises(ValueError, match="fairness_threshold must be >= 0"):
        SchedulingOptions(fairness_threshold=-1)
    assert SchedulingOptions(discipline="srpt", fairness_threshold=10).fairness_threshold == 10.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_queue_engine_runs_fcfs_with_drop_at_dispatch(backend):
    profiles = _profiles({"long": {PP1: [1.0]}, "short": {PP1: [0.25]}})
    w = Workload(np.array(ONE_DEVICE["arrivals"]), np.array(ONE_DEVICE["models"]), np.array([10.0, 10.0, 1.0, 1.0]),
                 ("long", "short"))
    placement = Placement((GroupPlacement(PP1, ("long", "short")),))
    # fcfs, S2 (deadline 1.25) would finish at 2.25: rejected at arrival by the FIFO engine, dropped
    # at its dispatch (t=2) by the queue engine; S3 likewise. The timelines of the rest agree.
    arrival = simulate(placement, w, profiles, SimOptions(backend=backend))
    queues = simulate(placement, w, profiles, SimOptions(backend=backend, queue_engine=True))
    assert arrival.reason.tolist() == [0, 0, int(RejectReason.SLO), int(RejectReason.SLO)]
    assert queues.reason.tolist() == [0, 0, int(RejectReason.DOOMED), int(RejectReason.DOOMED)]
    assert arrival.finish_s[:2].tolist() == queues.finish_s[:2].tolist() == [1.0, 2.0]


def test_scorer_scores_under_the_discipline():
    from alpa_serve_like.simulator import PlacementScorer

    profiles = _profiles({"long": {PP1: [1.0]}, "short": {PP1: [0.25]}})
    w = Workload(np.array(ONE_DEVICE["arrivals"]), np.array(ONE_DEVICE["models"]), np.array([10.0, 10.0, 1.0, 1.25]),
                 ("long", "short"))
    placement = Placement((GroupPlacement(PP1, ("long", "short")),))
    for discipline, attainment in (("fcfs", 0.5), ("srpt", 1.0)):  # srpt: S2 ends 1.25, S3 1.5 (deadline 1.625)
        options = SimOptions(scheduling=SchedulingOptions(discipline=discipline))
        assert PlacementScorer(w, profiles, options).score(placement).attainment == attainment
        assert simulate(placement, w, profiles, options).attainment == attainment


def test_scheduler_judges_lateness_at_arrival_only_under_fcfs():
    from alpa_serve_like.scheduling import Scheduler

    profiles = _profiles({"long": {PP1: [1.0]}})
    placement = Placement((GroupPlacement(PP1, ("long",)),))
    tables = build_latency_tables(placement, ("long",), StageLatencyCache(profiles, 1))
    fcfs = Scheduler(tables, SchedulingOptions()).route_and_admit(0, 0.0, 0.5)
    srpt = Scheduler(tables, SchedulingOptions(discipline="srpt")).route_and_admit(0, 0.0, 0.5)
    assert not fcfs.admitted and fcfs.reason is RejectReason.SLO
    assert srpt.admitted  # dropped at dispatch instead (the runtime's DispatchOrder.drops_late)
