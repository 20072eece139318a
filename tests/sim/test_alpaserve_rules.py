"""AlpaServe's simulator rules as options: exact timelines, and kernel == reference == score loops."""
import dataclasses
import itertools

import numpy as np
import pytest

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlacementSchedule
from alpa_serve_like.scheduling import SchedulingOptions, StageLatencyCache, build_latency_tables
from alpa_serve_like.scheduling.presets import with_rules
from alpa_serve_like.simulator.kernel import KernelRun
from alpa_serve_like.simulator.reference import simulate_segment_reference
from alpa_serve_like.simulator.score_kernel import (ROUTE_EARLIEST_FINISH, ROUTE_LAST_STAGE_FREE, get_score_loop,
                                                    score_tables)
from alpa_serve_like.simulator.score_queue_loop import get_score_queue_loop
from sim_cases import random_case

PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _profile(name, pp1_s, pp2_s=(0.25, 0.25)):
    configs = {PP1: ConfigProfile(PP1, {1: (pp1_s,)}, (1,)), PP2: ConfigProfile(PP2, {1: tuple(pp2_s)}, (1, 1))}
    return ModelProfile(name=name, device="test-gpu", configs=configs, source="test")


def _run(placement, profiles, arrival, slo, options, backend):
    tables = build_latency_tables(placement, ("a",), StageLatencyCache(profiles, options.max_batch_size),
                                  options.pipeline_comm_factor)
    arrival = np.asarray(arrival, dtype=np.float64)
    model_id = np.zeros(len(arrival), dtype=np.int64)
    deadline = arrival + np.asarray(slo, dtype=np.float64)
    if backend == "kernel":
        return KernelRun(tables, arrival, model_id, deadline, options).result()
    return simulate_segment_reference(tables, arrival, model_id, deadline, options)


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_finish_overhead_delays_the_answer_not_the_device(backend):
    placement = Placement((GroupPlacement(PP1, ("a",)),))
    opts = SchedulingOptions(finish_overhead_s=0.125)
    # Request 0: device done at 0.25, answer at 0.375 (SLO 0.375: admitted, exactly on time).
    # Request 1 at 0.25 starts at once (the overhead did not hold the device): done 0.5, answer 0.625 > 0.25 + 0.25.
    # Request 2 at 0.5, SLO 0.375: done 0.75, answer 0.875 <= 0.875 admitted.
    out = _run(placement, {"a": _profile("a", 0.25)}, [0.0, 0.25, 0.5], [0.375, 0.25, 0.375], opts, backend)
    assert out.reason.tolist() == [0, 1, 0]
    assert out.batch_finish_s.tolist() == [0.25, 0.75]
    assert out.batch_start_s.tolist() == [0.0, 0.5]


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_pipeline_comm_factor_scales_every_stage_by_pp(backend):
    placement = Placement((GroupPlacement(PP2, ("a",)),))
    opts = SchedulingOptions(pipeline_comm_factor=0.25)  # x (1 + 0.25 * 2) = x 1.5
    out = _run(placement, {"a": _profile("a", 1.0, (0.25, 0.5))}, [0.0], [10.0], opts, backend)
    assert out.batch_finish_s.tolist() == [0.375 + 0.75]


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_last_stage_free_ignores_the_requests_own_latency(backend):
    # Group 0 runs model a on one slow device, group 1 on a fast two-stage pipeline; both idle.
    # earliest_finish picks the fast group 1; last_stage_free sees equal (idle) clocks and keeps group 0.
    placement = Placement((GroupPlacement(PP1, ("a",)), GroupPlacement(PP2, ("a",))))
    profiles = {"a": _profile("a", 1.0, (0.25, 0.25))}
    ef = _run(placement, profiles, [0.0, 0.125], [10.0, 10.0], SchedulingOptions(), backend)
    ls = _run(placement, profiles, [0.0, 0.125], [10.0, 10.0], SchedulingOptions(routing="last_stage_free"), backend)
    assert ef.group.tolist() == [1, 1]
    assert ls.group.tolist() == [0, 1]  # then group 1's clock (-inf) is below group 0's (1.0)


def test_unknown_rule_set_names_the_known_ones():
    with pytest.raises(ValueError, match="alpaserve"):
        with_rules(SchedulingOptions(), "alpa")


def _served_by_kernel(out, model_id, deadline, overhead_s, num_models):
    finish = np.full(len(model_id), np.nan)
    ok = out.batch >= 0
    finish[ok] = out.batch_finish_s[out.batch[ok]] + overhead_s
    good = (out.reason == 0) & (finish <= deadline)
    return np.bincount(model_id[good], minlength=num_models)


def test_rules_agree_between_kernel_reference_and_score_loop():
    rng = np.random.default_rng(12)
    compared = compared_queues = 0
    for case in range(120):
        placement, workload, profiles, sim_opts = random_case(rng)
        if isinstance(placement, PlacementSchedule):
            placement = placement.segments[0]
        opts = dataclasses.replace(
            sim_opts.scheduling,
            routing=str(rng.choice(["earliest_finish", "last_stage_free", "shortest_queue"])),
            finish_overhead_s=float(rng.choice([0.0, 0.125, 0.011])),
            pipeline_comm_factor=float(rng.choice([0.0, 0.009, 0.25])),
        )
        names = workload.model_names
        tables = build_latency_tables(placement, names, StageLatencyCache(profiles, opts.max_batch_size),
                                      opts.pipeline_comm_factor)
        args = (tables, workload.arrival_s, workload.model_id, workload.deadline_s, opts)
        fast, ref = KernelRun(*args).result(), simulate_segment_reference(*args)
        where = f"case {case} ({opts})"
        for name in ("group", "reason", "batch"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), err_msg=f"{where}: {name}")
        np.testing.assert_array_equal(fast.batch_finish_s, ref.batch_finish_s, err_msg=where)
        if opts.max_batch_size == 1 and opts.routing == "shortest_queue":
            expected = _served_by_kernel(fast, workload.model_id, workload.deadline_s, opts.finish_overhead_s,
                                         len(names))
            lat1 = np.ascontiguousarray(tables.lat_s[:, :, 0])
            several = np.repeat(np.diff(tables.host_ptr) > 1, np.diff(tables.host_ptr))
            for jit, queued in [(j, q) for j in (True, False) for q in ("needed", "all")]:
                served, n, g = np.zeros(len(names), dtype=np.int64), len(workload), tables.num_groups
                queued = np.full(g, True) if queued == "all" else np.isin(np.arange(g), tables.replica_group[several])
                get_score_queue_loop(jit)(
                    workload.arrival_s, workload.model_id, workload.deadline_s, tables.host_ptr, tables.replica_group,
                    tables.num_stages, lat1, opts.dispatch_overhead_s, opts.per_stage_overhead_s or None,
                    opts.finish_overhead_s, opts.admission, 0, 0, n, np.full((g, lat1.shape[1]), -np.inf),
                    queued, np.full(g, -1), np.full(g, -1), np.zeros(g, dtype=np.int64), np.empty(n, dtype=np.int64),
                    np.empty(n), served)
                np.testing.assert_array_equal(served, expected, err_msg=f"{where} jit={jit} queued={queued}")
            compared_queues += 1
        if opts.max_batch_size == 1 and opts.routing != "shortest_queue":
            expected = _served_by_kernel(fast, workload.model_id, workload.deadline_s, opts.finish_overhead_s,
                                         len(names))
            lat1 = np.ascontiguousarray(tables.lat_s[:, :, 0])
            code = ROUTE_LAST_STAGE_FREE if opts.routing == "last_stage_free" else ROUTE_EARLIEST_FINISH
            loop_tables = score_tables(tables.host_ptr, tables.replica_group, tables.num_stages, lat1)
            ids = workload.model_id.astype(np.uint16)
            slo = np.zeros(len(names))
            slo[workload.model_id] = workload.slo_s
            # Compiled and plain; a zero overhead both as 0.0 and as None (the version without adds);
            # deadlines read, or rebuilt from per-model SLOs where that is exact.
            stage = [opts.per_stage_overhead_s] + ([None] if opts.per_stage_overhead_s == 0.0 else [])
            finish = [opts.finish_overhead_s] + ([None] if opts.finish_overhead_s == 0.0 else [])
            slos = [None] + ([slo] if np.array_equal(workload.arrival_s + slo[workload.model_id],
                                                     workload.deadline_s) else [])
            for jit, stage_overhead, finish_overhead, slo_of_model in itertools.product((True, False), stage, finish,
                                                                                        slos):
                served = np.zeros(len(names), dtype=np.int64)
                scratch = np.empty((max(int(np.diff(tables.host_ptr).max()), 1), lat1.shape[1]))
                free = np.full(tables.num_groups * lat1.shape[1], -np.inf)
                get_score_loop(jit)(workload.arrival_s, ids, workload.deadline_s, slo_of_model, *loop_tables,
                                    opts.dispatch_overhead_s, stage_overhead, finish_overhead, code, opts.admission,
                                    0, free, scratch, served)
                np.testing.assert_array_equal(served, expected, err_msg=f"{where} jit={jit} stage={stage_overhead} "
                                              f"finish={finish_overhead} slo={slo_of_model is not None}")
            compared += 1
    assert compared >= 15 and compared_queues >= 5


def test_alpaserve_preset_through_simulate_and_the_scorer():
    from alpa_serve_like.simulator import PlacementScorer, SimOptions, simulate

    rng = np.random.default_rng(5)
    opts = SimOptions(scheduling=with_rules(SchedulingOptions(), "alpaserve"))
    assert opts.scheduling.routing == "last_stage_free" and opts.scheduling.finish_overhead_s == 0.011
    for case in range(20):
        placement, workload, profiles, _ = random_case(rng)
        full = simulate(placement, workload, profiles, opts)
        ref = simulate(placement, workload, profiles, dataclasses.replace(opts, backend="reference"))
        np.testing.assert_array_equal(full.group, ref.group, err_msg=f"case {case}")
        score = PlacementScorer(workload, profiles, opts).score(placement)
        np.testing.assert_array_equal(score.per_model_served, full.per_model_counts()[0], err_msg=f"case {case}")
        served = full.reason == 0
        assert np.all(full.finish_s[served] <= full.deadline_s[served])  # finish_s includes the overhead


def test_switching_rule_sets_replaces_every_rule_field_and_keeps_the_rest():
    from alpa_serve_like.scheduling.presets import RULE_FIELDS, rules_of

    mine = SchedulingOptions(max_batch_size=4, dispatch_overhead_s=0.002)
    alpa = with_rules(mine, "alpaserve")
    assert (alpa.routing, alpa.finish_overhead_s, alpa.pipeline_comm_factor, alpa.float32_times) == \
        ("last_stage_free", 0.011, 0.009, True)
    assert (alpa.max_batch_size, alpa.dispatch_overhead_s) == (4, 0.002)
    assert with_rules(alpa, "default") == mine
    assert rules_of(alpa) == "alpaserve" and rules_of(mine) == "default"
    assert rules_of(dataclasses.replace(alpa, finish_overhead_s=0.0)) is None
    assert set(RULE_FIELDS) == {"routing", "finish_overhead_s", "pipeline_comm_factor", "float32_times"}


def test_float32_times_round_latencies_after_the_factor_and_slos():
    from alpa_serve_like.simulator.engine import request_deadlines

    placement = Placement((GroupPlacement(PP2, ("a",)),))
    cache = StageLatencyCache({"a": _profile("a", 1.0, (0.1, 0.3))}, 1)
    exact = build_latency_tables(placement, ("a",), cache, 0.009).lat_s[0, :, 0]
    rounded = build_latency_tables(placement, ("a",), cache, 0.009, float32_times=True).lat_s[0, :, 0]
    assert exact.tolist() == [0.1 * (1 + 0.009 * 2), 0.3 * (1 + 0.009 * 2)]
    assert rounded.tolist() == [float(np.float32(x)) for x in exact] and rounded.tolist() != exact.tolist()
    arrival, slo = np.array([1.0, 2.0]), np.array([0.1, 0.25])
    on, off = with_rules(SchedulingOptions(), "alpaserve"), SchedulingOptions()
    assert request_deadlines(arrival, slo, off).tolist() == [1.1, 2.25]
    assert request_deadlines(arrival, slo, on).tolist() == [1.0 + float(np.float32(0.1)), 2.25]


def test_rules_flag_reaches_the_plan_and_simulate_can_switch_it(tmp_path):
    import argparse

    from alpa_serve_like.cli import common_args
    from alpa_serve_like.cli.place_cmd import options_from
    from alpa_serve_like.cli.simulate_cmd import settings_from_plan
    from alpa_serve_like.scheduling.plan_record import scheduling_record

    parser = argparse.ArgumentParser()
    common_args.add_rules(parser)
    args = parser.parse_args(["--rules", "alpaserve"])
    args.max_batch_size, args.time_budget, args.ilp_time_limit, args.oracle = 1, 1.0, 1.0, False
    scheduling = options_from(args).scheduling
    assert scheduling == with_rules(SchedulingOptions(), "alpaserve")

    class Context:
        device = "v100-16gb"

    Context.scheduling = scheduling_record(scheduling)
    sim_args = argparse.Namespace(device=None, routing=None, no_admission=None, max_batch_size=None,
                                  dispatch_overhead=None, stage_overhead=None, warmup=0.0, backend="kernel",
                                  rules=None)
    assert settings_from_plan(Context, sim_args)[1].scheduling == scheduling  # the plan's rules by default
    sim_args.rules = "default"
    _, options, notes = settings_from_plan(Context, sim_args)
    assert options.scheduling == SchedulingOptions() and "using rule set default" in notes
    sim_args.routing = "earliest_finish"
    sim_args.rules = "alpaserve"  # an explicit flag still wins over the set
    assert settings_from_plan(Context, sim_args)[1].scheduling.routing == "earliest_finish"
    with pytest.raises(SystemExit):
        parser.parse_args(["--rules", "alpa"])


def test_experiments_place_and_score_under_the_rule_set(tmp_path):
    from alpa_serve_like.osdi_artifact import suites
    from alpa_serve_like.osdi_artifact.gen_data_cli import build_parser
    from alpa_serve_like.osdi_artifact.results import read_rows
    from alpa_serve_like.osdi_artifact.runner import run_points

    assert build_parser("e2e", "").parse_args(["--rules", "alpaserve"]).rules == "alpaserve"
    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    pts = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    rows = {}
    for rules in ("default", "alpaserve"):
        out = tmp_path / f"{rules}.tsv"
        assert run_points(pts, str(out), jobs=1, progress=False, rules=rules)["failures"] == 0
        (rows[rules],) = read_rows(out)
    assert rows["default"]["error"] == rows["alpaserve"]["error"] == ""
    assert rows["alpaserve"]["attainment"] != rows["default"]["attainment"]  # the set reached the scoring
