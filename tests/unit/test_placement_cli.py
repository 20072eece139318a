"""The place / compare-policies commands: argument handling, errors for infeasible inputs, and the
plan they write carrying its device, budget, scheduling and SLO to simulate."""
import numpy as np
import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.core.slo import slo_from_scale
from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
from alpa_serve_like.trace.workload_io import load_workload
from builders import make_profile


@pytest.fixture
def tiny_db(tmp_path):
    db = ProfilingDatabase()
    db.add(make_profile("small", device="v100-16gb", weight_bytes=2 * GiB))
    db.add(make_profile("huge", device="v100-16gb", weight_bytes=80 * GiB))  # 20 GiB even on 4 stages
    path = tmp_path / "db.pkl"
    db.save(path)
    return path


def test_a_model_that_fits_nowhere_is_named_with_its_need_and_the_budget(tiny_db, tmp_path, capsys):
    code = main(["place", "--policy", "mp-search", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "small:2,huge:1", "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "'huge-0' fits no group" in err and "20.00 GiB" in err and "13.00 GiB" in err
    assert not (tmp_path / "p.json").exists()


def test_allow_unplaced_writes_the_plan_without_a_model_that_fits_nowhere(tiny_db, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["place", "--policy", "mp-search", "--num-devices", "4", "--db", str(tiny_db), "--duration", "20",
                 "--models", "small:2,huge:1", "--allow-unplaced", "--out", str(out)]) == 0
    assert "left out (1, --allow-unplaced): huge-0" in capsys.readouterr().out
    plan = Placement.load(out)
    assert plan.context.unplaced == ("huge-0",) and set(plan.models) == {"small-0", "small-1"}
    assert plan.context.memory_budget_bytes == 13 * GiB and plan.context.device == "v100-16gb"


def test_unknown_model_and_policy_are_clear_errors(tiny_db, tmp_path, capsys):
    assert main(["place", "--policy", "mp-search", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "bert-9b:2", "--out", str(tmp_path / "p.json")]) == 2
    assert "'bert-9b' is not in the profiling database (known: huge, small)" in capsys.readouterr().err
    assert main(["compare-policies", "--policies", "mp-search,nope", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "small:2", "--workload", str(tmp_path / "missing.npz")]) == 2
    assert "unknown placement policy 'nope'" in capsys.readouterr().err


# The two A100 examples of issue 9, on the shipped database.
A100 = ["--device", "a100-80gb", "--models", "bert-103.5b:1,bert-6.7b:4", "--duration", "30", "--rate", "8"]


def _smallest_need_gib(model: str, device: str, max_devices: int) -> float:
    """Least per-device bytes of ``model`` alone over configs of at most ``max_devices`` devices
    (weights plus batch-1 activations of its busiest stage), computed here from the database."""
    profile = ProfilingDatabase.load(default_database_path()).get(model, device)
    needs = [max(w + a for w, a in zip(e.weight_bytes, e.act_bytes[1]))
             for c, e in profile.configs.items() if c.op * c.pp <= max_devices]
    return min(needs) / GiB


def test_a100_place_names_a_model_it_left_out_unless_allowed(tmp_path, capsys):
    out = tmp_path / "p.json"
    args = ["place", "--policy", "mp-search", "--num-devices", "4", *A100, "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    need = _smallest_need_gib("bert-103.5b", "a100-80gb", 4)
    assert f"model 'bert-103.5b-0' was not placed: it needs at least {need:.2f} GiB per device" in err
    assert "the memory budget is 65.00 GiB per device on a100-80gb" in err and "--allow-unplaced" in err
    assert not out.exists()

    assert main(args + ["--allow-unplaced"]) == 0
    assert "left out (1, --allow-unplaced): bert-103.5b-0" in capsys.readouterr().out
    plan = Placement.load(out)
    assert plan.context.unplaced == ("bert-103.5b-0",) and "bert-103.5b-0" not in plan.models
    assert plan.context.device == "a100-80gb" and plan.context.memory_budget_bytes == 65 * GiB


def test_a100_plan_carries_device_batch_and_slo_to_simulate(tmp_path, capsys):
    plan_path, test_path = tmp_path / "p.json", tmp_path / "test.npz"
    assert main(["place", "--policy", "mp-search", "--num-devices", "2", "--device", "a100-80gb",
                 "--models", "bert-6.7b:2", "--duration", "30", "--rate", "8", "--slo-scale", "4",
                 "--max-batch-size", "2", "--out", str(plan_path)]) == 0
    plan = Placement.load(plan_path)
    assert plan.context.slo == {"scale": 4.0} and plan.context.max_batch_size == 2
    assert plan.context.database_fingerprint == ProfilingDatabase.load(default_database_path()).fingerprint()

    # a test workload with the same SLOs, made from the command line
    assert main(["trace", "generate", "--models", "bert-6.7b-0,bert-6.7b-1", "--rate", "8", "--duration", "20",
                 "--slo-scale", "4", "--device", "a100-80gb", "--seed", "1", "--out", str(test_path)]) == 0
    w = load_workload(test_path)
    profiles = {m: ProfilingDatabase.load(default_database_path()).get("bert-6.7b", "a100-80gb") for m in w.model_names}
    expected = slo_from_scale(w.model_names, profiles, 4.0)
    np.testing.assert_allclose(w.slo_s, expected[w.model_id])
    capsys.readouterr()

    sim = ["simulate", "--placement", str(plan_path), "--workload", str(test_path)]
    assert main(sim) == 0
    from_plan = capsys.readouterr().out
    assert "using device a100-80gb from the plan" in from_plan and "using max_batch_size 2 from the plan" in from_plan
    assert main(sim + ["--device", "a100-80gb", "--max-batch-size", "2"]) == 0
    explicit = capsys.readouterr().out
    metrics = lambda text: [ln for ln in text.splitlines() if ln.startswith(("SLO attainment", "latency"))]
    assert metrics(from_plan) == metrics(explicit) and metrics(explicit)

    assert main(sim + ["--device", "v100-16gb"]) == 2
    err = capsys.readouterr().err
    assert "placement group 0 (dp1_op1_pp" in err and "does not fit on v100-16gb" in err
    assert "bytes" in err and "'bert-6.7b-" in err and f"{13 * GiB:,} bytes" in err


def test_compare_policies_in_sample_scores_on_the_training_traffic(tiny_db, capsys):
    args = ["compare-policies", "--policies", "sr-greedy", "--num-devices", "2", "--db", str(tiny_db),
            "--models", "small:2", "--duration", "20", "--rate", "4"]
    assert main(args + ["--in-sample"]) == 0
    out = capsys.readouterr().out
    assert "evaluated on" in out and "(in-sample)" in out
    row = out.splitlines()[1].split()
    assert row[1] == row[2]  # test and train attainment: the same requests
    assert main(args) == 0
    assert "(in-sample)" not in capsys.readouterr().out


@pytest.mark.parametrize("extra, named", [(["--test-seed", "9"], "--test-seed"),
                                          (["--train-fraction", "0.7"], "--train-fraction"),
                                          (["--test-workload", "t.npz", "--test-seed", "9"], "--test-workload, --test-seed")])
def test_compare_policies_refuses_held_out_flags_with_in_sample(tiny_db, capsys, extra, named):
    args = ["compare-policies", "--policies", "sr-greedy", "--num-devices", "2", "--db", str(tiny_db),
            "--models", "small:2", "--duration", "20", "--rate", "4", "--in-sample"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert f"{named} choose held-out evaluation traffic, which --in-sample does not use" in err
