"""A plan whose groups name their device types, simulated: the same as the list form, the plain
``simulate`` refuses it, and ``alpa-serve-like simulate`` runs it with profiles per device type.

Toy profiles (builders.make_profile): a batch of b takes b s on ``slow`` and b/4 s on ``fast``.
"""
from dataclasses import replace

import numpy as np
import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.plan import GroupPlacement, Placement, PlanContext
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.simulator import SimOptions, simulate
from alpa_serve_like.simulator.mixed import simulate_mixed, simulate_plan
from alpa_serve_like.trace.workload_io import save_workload
from builders import make_database, make_profile

ONE = ParallelConfig(1, 1, 1)


def _profiles():
    quarter = {ONE: {b: [b / 4] for b in (1, 2, 4)}}
    return {"slow": {"a": make_profile("a", "slow")}, "fast": {"a": make_profile("a", "fast", quarter)}}


def _plan():
    groups = (GroupPlacement(ONE, ("a",)), GroupPlacement(ONE, ("a",), device="fast"))
    return Placement(groups, context=PlanContext(device="slow"))


def _workload():
    n = 12
    return Workload(np.arange(n) * 0.5, np.zeros(n, dtype=np.int64), np.full(n, 1.2), ("a",))


def test_plan_form_equals_list_form_and_uses_each_groups_device():
    opts = SimOptions()
    got = simulate_plan(_plan(), _profiles(), _workload(), opts)
    ref = simulate_mixed(["slow", "fast"], [("a",), ("a",)], _profiles(), _workload(), opts, group_compute=[7, 7])
    assert np.array_equal(got.group, ref.group) and np.array_equal(got.finish_s, ref.finish_s, equal_nan=True)
    # Earliest finish: every request goes to the fast group (0.25 s), which is free again in time.
    assert got.group.tolist() == [1] * 12 and np.allclose(got.latency_s, 0.25)


def test_plain_simulate_refuses_a_mixed_plan_and_simulate_plan_needs_a_device():
    with pytest.raises(ValueError, match=r"several device types \(slow, fast\).*simulate_plan"):
        simulate(_plan(), _workload(), _profiles()["slow"])
    no_device = Placement((GroupPlacement(ONE, ("a",)), GroupPlacement(ONE, ("a",), device="fast")))
    with pytest.raises(ValueError, match="group 0 names no device"):
        simulate_plan(no_device, _profiles(), _workload())


def test_cli_simulates_a_plan_with_group_devices(tmp_path, capsys):
    db = make_database(*(p for by_model in _profiles().values() for p in by_model.values()))
    db.save(tmp_path / "db.pkl")
    _plan().save(tmp_path / "p.json")
    save_workload(_workload(), tmp_path / "w.npz")
    rc = main(["simulate", "--placement", str(tmp_path / "p.json"), "--workload", str(tmp_path / "w.npz"),
               "--db", str(tmp_path / "db.pkl"), "--memory-budget-gib", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "fast:(op1,pp1)[1]" in out and "100.00%" in out


def _queueing_case():
    """Two models on one device type, ``long`` four times ``short``, on a one-device group and a
    two-stage pipeline, with requests arriving faster than they are served (the queue discipline
    and the latency rules then change who is served when)."""
    long = {ONE: {b: [1.0 * b] for b in (1, 2, 4)}, ParallelConfig(1, 1, 2): {b: [0.5 * b] * 2 for b in (1, 2, 4)}}
    short = {ONE: {b: [0.25 * b] for b in (1, 2, 4)}, ParallelConfig(1, 1, 2): {b: [0.125 * b] * 2 for b in (1, 2, 4)}}
    profiles = {"long": make_profile("long", "slow", long), "short": make_profile("short", "slow", short)}
    rng = np.random.default_rng(3)
    n = 60
    arrival = np.sort(rng.uniform(0.0, 12.0, n))
    workload = Workload(arrival, rng.integers(0, 2, n).astype(np.int64), np.full(n, 2.3), ("long", "short"))
    groups = (GroupPlacement(ONE, ("long", "short")), GroupPlacement(ParallelConfig(1, 1, 2), ("long", "short")))
    return profiles, workload, groups


@pytest.mark.parametrize("discipline, rules", [("srpt", None), ("edf", None), ("fcfs", "alpaserve")])
def test_naming_the_plans_own_device_on_every_group_changes_nothing(discipline, rules):
    from alpa_serve_like.scheduling.options import SchedulingOptions
    from alpa_serve_like.scheduling.presets import rule_values

    profiles, workload, groups = _queueing_case()
    sched = SchedulingOptions(discipline=discipline, **(rule_values(rules) if rules else {}))
    for backend in ("kernel", "reference"):
        opts = SimOptions(scheduling=sched, backend=backend, jit=False)
        plain = simulate(Placement(groups, context=PlanContext(device="slow")), workload, profiles, opts)
        named = Placement(tuple(replace(g, device="slow") for g in groups), context=PlanContext(device="slow"))
        got = simulate_plan(named, {"slow": profiles}, workload, opts)
        for field in ("group", "reason", "batch", "start_s", "finish_s", "deadline_s"):
            assert np.array_equal(getattr(got, field), getattr(plain, field), equal_nan=True), (backend, field)
        assert 0 < plain.attainment < 1  # the case queues: some requests are late or dropped


def test_cli_device_runs_the_groups_that_name_none(tmp_path, capsys):
    # group 0 names no device: --device fast puts it on fast (the plan's slow is not looked up)
    fast_only = make_database(_profiles()["fast"]["a"])
    fast_only.save(tmp_path / "db.pkl")
    _plan().save(tmp_path / "p.json")
    save_workload(_workload(), tmp_path / "w.npz")
    rc = main(["simulate", "--placement", str(tmp_path / "p.json"), "--workload", str(tmp_path / "w.npz"),
               "--db", str(tmp_path / "db.pkl"), "--memory-budget-gib", "1", "--device", "fast",
               "--out", str(tmp_path / "r.tsv")])
    captured = capsys.readouterr()
    assert rc == 0 and "Traceback" not in captured.err, captured.err
    assert "100.00%" in captured.out


@pytest.mark.parametrize("discipline", ["fcfs", "srpt"])
def test_simulate_plan_reports_progress(discipline):
    from alpa_serve_like.scheduling.options import SchedulingOptions

    calls = []
    opts = SimOptions(scheduling=SchedulingOptions(discipline=discipline), jit=False)
    simulate_plan(_plan(), _profiles(), _workload(), opts, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (12, 12)


@pytest.mark.parametrize("flags", [["--discipline", "srpt"], ["--rules", "alpaserve"]])
def test_cli_gives_the_same_rows_with_and_without_group_devices(tmp_path, capsys, flags):
    profiles, workload, groups = _queueing_case()
    make_database(*profiles.values()).save(tmp_path / "db.pkl")
    save_workload(workload, tmp_path / "w.npz")
    rows = []
    for name, device in (("plain", None), ("named", "slow")):
        plan = Placement(tuple(replace(g, device=device) for g in groups), context=PlanContext(device="slow"))
        plan.save(tmp_path / f"{name}.json")
        rc = main(["simulate", "--placement", str(tmp_path / f"{name}.json"), "--workload", str(tmp_path / "w.npz"),
                   "--db", str(tmp_path / "db.pkl"), "--memory-budget-gib", "1", *flags,
                   "--out", str(tmp_path / f"{name}.tsv")])
        assert rc == 0, capsys.readouterr().err
        rows.append((tmp_path / f"{name}.tsv").read_text())
    assert rows[0] == rows[1]
