"""The compound MILP on cases small enough to solve by hand (expected optima worked out below)."""
from __future__ import annotations

import pytest

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.optimizer import (
    CompoundInfeasible, OptimizerOptions, max_demand, min_resources, prune_options,
)
from alpa_serve_like.compound.slice_table import SliceOption
from alpa_serve_like.compound.systems import compare_systems, system_inputs


def whole_gpu(task, variant, latency_s):
    return SliceOption(task, variant, 7, 1, latency_s, 1.0 / latency_s)


def two_task_chain(accuracy_slo=0.8, composition="product", slo_s=1.0):
    """A -> B, each with a big (0.95) and a small (0.85) variant, whole GPUs only.

    Latencies: A big 0.6 s, A small 0.2 s, B big 0.5 s, B small 0.2 s (throughput 1/latency).
    With SLO 1 s and accuracy >= 0.8 (product) the candidates are
      big+big   1.1 s: too slow;      small+small  acc 0.7225: too inaccurate;
      Abig+Bsmall 0.8 s, acc 0.8075: at 10 rps needs 6 + 2 = 8 GPUs;
      Asmall+Bbig 0.7 s, acc 0.8075: at 10 rps needs 2 + 5 = 7 GPUs  <- optimum, 49 slices.
    """
    tasks = (Task("A", (Variant("a-big", 0.95), Variant("a-small", 0.85))),
             Task("B", (Variant("b-big", 0.95), Variant("b-small", 0.85)), parents=("A",)))
    app = CompoundApp("chain", tasks, slo_s=slo_s, accuracy_slo=accuracy_slo, composition=composition)
    options = (whole_gpu(0, 0, 0.6), whole_gpu(0, 1, 0.2), whole_gpu(1, 0, 0.5), whole_gpu(1, 1, 0.2))
    return app, options


def test_min_resources_picks_the_cheaper_feasible_variant_pair():
    app, options = two_task_chain()
    plan = min_resources(app, options, demand_rps=10.0, num_gpus=20)
    assert plan.variant_by_task == {"A": "a-small", "B": "b-big"}
    assert plan.slices_used == 49 and plan.gpus_used == 7
    assert {(i.model, i.count) for i in plan.instances} == {("a-small", 2), ("b-big", 5)}
    assert plan.accuracy == pytest.approx(0.85 * 0.95)
    # Canonical budgets: the chosen latencies 0.2 and 0.5 s; the 0.3 s of slack stays unsplit.
    assert plan.budget_s_by_task == pytest.approx({"A": 0.2, "B": 0.5})
    assert plan.optimal


def test_max_demand_on_seven_gpus():
    # Asmall+Bbig: 2 GPUs x 5 rps and 5 GPUs x 2 rps serve 10 rps; Abig+Bsmall at best
    # 5 x (1/0.6) = 8.33 rps with 2 x 5 for B. So 10 rps.
    app, options = two_task_chain()
    plan = max_demand(app, options, num_gpus=7)
    assert plan.demand_rps == pytest.approx(10.0, rel=1e-6)
    assert plan.variant_by_task == {"A": "a-small", "B": "b-big"}


def test_min_composition_forbids_low_accuracy_variants():
    # accuracy >= 0.9 under min: only the big variants; 0.6 + 0.5 s misses a 1 s SLO ...
    app, options = two_task_chain(accuracy_slo=0.9, composition="min")
    with pytest.raises(CompoundInfeasible, match="application 'chain': no plan serves 10 rps on 20 GPUs"):
        min_resources(app, options, 10.0, 20)
    # ... and fits a 1.2 s SLO with 6 + 5 GPUs.
    app, options = two_task_chain(accuracy_slo=0.9, composition="min", slo_s=1.2)
    plan = min_resources(app, options, 10.0, 20)
    assert plan.variant_by_task == {"A": "a-big", "B": "b-big"} and plan.gpus_used == 11


def test_small_slices_beat_a_whole_gpu_when_the_budget_allows():
    # One task: a whole GPU does 10 rps at 0.1 s; a 1g slice 2 rps at 0.5 s. 6 rps: three 1g
    # slices (3 of 7 compute slices) instead of one whole GPU (7).
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=1.0)
    options = (SliceOption(0, 0, 7, 1, 0.1, 10.0), SliceOption(0, 0, 1, 1, 0.5, 2.0))
    plan = min_resources(app, options, 6.0, 1)
    assert plan.slices_used == 3 and plan.gpus_used == 1
    assert max_demand(app, options, 1).demand_rps == pytest.approx(14.0)  # seven 1g slices
    tight = CompoundApp("one", app.tasks, slo_s=0.4)  # 1g too slow: the whole GPU
    assert min_resources(tight, options, 6.0, 1).slices_used == 7


def test_slices_pack_onto_gpus_with_valid_geometries():
    # 2g instances: at most three on a GPU (2g+2g+2g+1g), so four need two GPUs.
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=1.0)
    options = (SliceOption(0, 0, 2, 1, 0.1, 10.0),)
    assert max_demand(app, options, 1).demand_rps == pytest.approx(30.0)
    plan = min_resources(app, options, 40.0, 2)
    assert plan.slices_used == 8 and plan.gpus_used == 2
    with pytest.raises(CompoundInfeasible):
        min_resources(app, options, 40.0, 1)


def test_fan_out_multiplies_a_tasks_demand():
    # root -> (c1 fan-out 3, c2) -> sink; every task 10 rps per whole GPU: 1 + 3 + 1 + 1 GPUs.
    v = (Variant("m", 0.9),)
    app = CompoundApp("diamond", (Task("root", v), Task("c1", v, 3, ("root",)), Task("c2", v, 1, ("root",)),
                                  Task("sink", v, 1, ("c1", "c2"))), slo_s=1.0)
    options = tuple(whole_gpu(t, 0, 0.1) for t in range(4))
    plan = min_resources(app, options, 10.0, 8)
    assert {i.task: i.count for i in plan.instances} == {"root": 1, "c1": 3, "c2": 1, "sink": 1}
    assert max_demand(app, options, 6).demand_rps == pytest.approx(10.0)


def test_utilization_cap_adds_headroom():
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=1.0)
    options = (whole_gpu(0, 0, 0.1),)
    assert min_resources(app, options, 10.0, 4).gpus_used == 1
    assert min_resources(app, options, 10.0, 4, OptimizerOptions(utilization=0.8)).gpus_used == 2


def test_pruning_drops_options_that_cannot_meet_the_slos():
    app, options = two_task_chain()
    # A big (0.6 s) + fastest B (0.2 s) fits 1 s; nothing is too slow here ...
    assert prune_options(app, options) == options
    # ... but with a 0.75 s SLO A big (0.6 + 0.2) and B big with A small fit, A big does not.
    app = CompoundApp("chain", app.tasks, slo_s=0.75, accuracy_slo=0.8)
    assert whole_gpu(0, 0, 0.6) not in prune_options(app, options)


def test_ablations_serve_less_on_the_hand_case():
    # Even budget: 0.5 s each rules out A big (0.6 s); Asmall+Bbig still fits, so the same 10 rps.
    # No variants: big+big only, 1.1 s > 1 s: nothing served.
    app, options = two_task_chain()
    messages = []
    results = {r.system: r for r in compare_systems(app, options, 7, progress=messages.append)}
    assert len(messages) == 10 and messages[0] == "chain jigsaw: maximum 10.00 rps"
    assert results["jigsaw"].max_demand_rps == pytest.approx(10.0, rel=1e-6)
    assert results["even-budget"].max_demand_rps == pytest.approx(10.0, rel=1e-6)
    assert results["no-variants"].plan is None and "no plan serves" in results["no-variants"].reason
    assert results["no-partitioning"].max_demand_rps == pytest.approx(10.0, rel=1e-6)
    # Reference demand: half the best maximum, 5 rps. A small (5 rps/GPU) on 1 GPU and B big
    # (2 rps/GPU) on 3, or A big (1.67) on 3 and B small (5) on 1: 4 GPUs, 28 slices either way.
    assert results["jigsaw"].reference_plan.demand_rps == pytest.approx(5.0, rel=1e-5)
    assert results["jigsaw"].reference_plan.slices_used == 28
    assert results["per-model"].plan is None  # big+big again


def test_per_model_combines_the_three_restrictions():
    # Uneven chain with a fast small and a slow big variant per task, 2 s SLO: per-model keeps
    # the big variants (0.9 s each, fits the even 1 s split) on whole GPUs at MPS 1 only.
    tasks = (Task("A", (Variant("a-big", 0.95), Variant("a-small", 0.85))),
             Task("B", (Variant("b-big", 0.95), Variant("b-small", 0.85)), parents=("A",)))
    app = CompoundApp("chain", tasks, slo_s=2.0)
    options = (whole_gpu(0, 0, 0.9), SliceOption(0, 1, 1, 2, 0.5, 4.0), whole_gpu(1, 0, 0.9),
               SliceOption(1, 0, 7, 2, 1.2, 1.6))
    sys_app, sys_options, sys_opts = system_inputs("per-model", app, options)
    assert [t.variants for t in sys_app.tasks] == [(Variant("a-big", 0.95),), (Variant("b-big", 0.95),)]
    assert sys_options == (whole_gpu(0, 0, 0.9), whole_gpu(1, 0, 0.9))
    assert sys_opts.fixed_budget_s == {"A": 1.0, "B": 1.0}


def test_even_budget_can_make_an_application_infeasible():
    # A (0.7 s only) -> B (0.2 s): graph-aware budgets fit 1 s; an even split (0.5 s each) does not.
    tasks = (Task("A", (Variant("a", 0.9),)), Task("B", (Variant("b", 0.9),), parents=("A",)))
    app = CompoundApp("uneven", tasks, slo_s=1.0)
    options = (whole_gpu(0, 0, 0.7), whole_gpu(1, 0, 0.2))
    assert max_demand(app, options, 2).demand_rps == pytest.approx(1 / 0.7)
    sys_app, sys_options, sys_opts = system_inputs("even-budget", app, options)
    assert sys_opts.fixed_budget_s == {"A": 0.5, "B": 0.5}
    with pytest.raises(CompoundInfeasible):
        max_demand(sys_app, sys_options, 2, sys_opts)


def test_no_variants_keeps_the_most_accurate_variant():
    app, options = two_task_chain()
    sys_app, sys_options, _ = system_inputs("no-variants", app, options)
    assert [t.variants[0].model for t in sys_app.tasks] == ["a-big", "b-big"]
    assert sys_options == (whole_gpu(0, 0, 0.6), whole_gpu(1, 0, 0.5))
    with pytest.raises(ValueError, match="unknown system 'fast'"):
        system_inputs("fast", app, options)


def test_latency_headroom_plans_with_slower_latencies_but_reports_real_ones():
    # Whole GPU 0.1 s / 10 rps vs 1g 0.5 s / 2 rps under a 1 s SLO: with headroom 0.5 the 1g
    # option counts as 1.0 s (still fits), with 0.4 as 1.25 s (does not): the whole GPU serves.
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=1.0)
    options = (SliceOption(0, 0, 7, 1, 0.1, 10.0), SliceOption(0, 0, 1, 1, 0.5, 2.0))
    plan = min_resources(app, options, 6.0, 1, OptimizerOptions(latency_headroom=0.5))
    assert plan.slices_used == 3 and plan.instances[0].latency_s == 0.5
    assert min_resources(app, options, 6.0, 1, OptimizerOptions(latency_headroom=0.4)).slices_used == 7
    with pytest.raises(ValueError, match="latency_headroom must be in"):
        min_resources(app, options, 6.0, 1, OptimizerOptions(latency_headroom=0.0))


def test_fan_out_keeps_enough_copies_to_run_side_by_side():
    # 1 rps x fan-out 3 needs 3 invocations/s: one whole GPU (10 rps) has the throughput, but the
    # three invocations of one request would queue behind each other; three copies are kept.
    app = CompoundApp("fan", (Task("t", (Variant("m", 0.9),), fan_out=3),), slo_s=1.0)
    assert min_resources(app, (whole_gpu(0, 0, 0.1),), 1.0, 4).gpus_used == 3
    # Three MPS copies on one 1g slice count as three.
    options = (whole_gpu(0, 0, 0.1), SliceOption(0, 0, 1, 3, 0.5, 6.0))
    assert min_resources(app, options, 1.0, 4).slices_used == 1


def test_queueing_aware_form_prefers_a_pool_that_waits_less():
    # One task, 0.8 s budget, one GPU: a whole GPU (0.1 s, 10 rps) or seven 1g slices (0.7 s
    # each, 10 rps together) tie on throughput. With a 1% wait tail the whole GPU has 0.7 s =
    # 7 service times of room: usable load 0.6969 (a * exp(-(1 - a) * 7 / 0.5) = 0.01), 6.97 rps;
    # the slices have 0.1 s = 1/7 of theirs: usable load 2.904 of 7, 4.15 rps. The whole GPU wins.
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=0.8)
    options = (SliceOption(0, 0, 7, 1, 0.1, 10.0), SliceOption(0, 0, 1, 1, 0.7, 1 / 0.7))
    fixed = {"t": 0.8}
    assert max_demand(app, options, 1, OptimizerOptions(fixed_budget_s=fixed)).demand_rps == pytest.approx(10.0)
    plan = max_demand(app, options, 1, OptimizerOptions(fixed_budget_s=fixed, wait_tail_probability=0.01))
    assert plan.demand_rps == pytest.approx(6.9686, abs=1e-3)
    assert [(i.compute_slices, i.count) for i in plan.instances] == [(7, 1)]


def test_queueing_aware_form_carries_more_per_gpu_in_a_larger_pool():
    # Headroom 0.5 leaves one service time (0.1 s) to wait: one GPU carries load 0.0649
    # (a * exp(-2 (1 - a)) = 0.01), two GPUs 0.6354 together: ten times more, not twice.
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=1.0)
    opts = OptimizerOptions(latency_headroom=0.5, wait_tail_probability=0.01)
    one = max_demand(app, (whole_gpu(0, 0, 0.1),), 1, opts)
    two = max_demand(app, (whole_gpu(0, 0, 0.1),), 2, opts)
    assert one.demand_rps == pytest.approx(0.6490, abs=1e-3)
    assert two.demand_rps == pytest.approx(6.354, abs=1e-2)
    with pytest.raises(ValueError, match="wait_tail_probability must be in"):
        max_demand(app, (whole_gpu(0, 0, 0.1),), 1, OptimizerOptions(wait_tail_probability=1.0))
