"""PlacementScorer reuse, progress reporting, and the ``simulate`` command."""
import dataclasses

import numpy as np
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.cli.main import main
from alpa_serve_like.core.plan import GroupPlacement, Placement
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import PlacementScorer, SimOptions, engine, simulate
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.trace.workload_io import save_workload
from builders import make_profile
from sim_cases import random_case

PP1, PP2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _bursty(bursts=40, seed=0):
    """Every 2.5 s, three simultaneous requests of one random model (SLO 2.5 s)."""
    rng = np.random.default_rng(seed)
    arrival = np.repeat(np.arange(bursts) * 2.5, 3)
    return Workload(arrival, np.repeat(rng.integers(0, 3, bursts), 3), np.full(3 * bursts, 2.5), ("a", "b", "c"))


def test_scorer_matches_simulate_across_many_placements_and_options():
    profiles = {m: make_profile(m) for m in "abc"}
    w = _bursty()
    placements = [
        Placement((GroupPlacement(PP1, ("a",)), GroupPlacement(PP1, ("b", "c")))),
        Placement((GroupPlacement(PP2, ("a", "b", "c")),)),
        Placement((GroupPlacement(PP1, ("a", "b")),)),  # c unplaced
    ]
    for options in (SimOptions(), SimOptions(SchedulingOptions(admission=False), warmup_s=5.0),
                    SimOptions(SchedulingOptions(max_batch_size=4))):
        scorer = PlacementScorer(w, profiles, options)
        for p in placements * 2:  # repeated calls on one scorer must not carry state over
            score = scorer.score(p)
            full = simulate(p, w, profiles, options)
            good, total = full.per_model_counts()
            assert score.attainment == full.attainment
            np.testing.assert_array_equal(score.per_model_served, good)
            np.testing.assert_array_equal(score.per_model_total, total)
        assert scorer.calls == 6
    assert score.per_model_attainment[2] == 0.0
    # A burst on one device finishes at 1, 2, 3 s (2 of 3 in time); on the shared 2-stage pipeline
    # at 1, 1.5, 2 s (all in time).
    s = PlacementScorer(w, profiles)
    assert s.score(placements[0]).attainment == pytest.approx(2 / 3)
    assert s.score(placements[1]).attainment == 1.0


def test_chunked_progress_gives_the_same_result(monkeypatch):
    placement, workload, profiles, options = random_case(np.random.default_rng(3))
    options = dataclasses.replace(options, warmup_s=0.0)
    whole = simulate(placement, workload, profiles, options)
    calls = []
    monkeypatch.setattr(engine, "PROGRESS_CHUNK", 7)
    chunked = simulate(placement, workload, profiles, options, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (len(workload), len(workload)) and len(calls) > 2
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    np.testing.assert_array_equal(whole.batch, chunked.batch)
    np.testing.assert_array_equal(whole.finish_s, chunked.finish_s)


@pytest.fixture
def cli_files(tmp_path):
    db = ProfilingDatabase()
    db.add(make_profile("bert-x", device="test-gpu"))
    db.save(tmp_path / "db.pkl")
    placement = Placement((GroupPlacement(PP2, ("bert-x-0", "bert-x-1")),))
    placement.save(tmp_path / "p.json")
    w = Workload(np.array([0.0, 0.25, 0.5, 3.0]), np.array([0, 1, 0, 1]), np.full(4, 1.4),
                 ("bert-x-0", "bert-x-1"))
    save_workload(w, tmp_path / "w.npz")
    profiles = {"bert-x-0": db.get("bert-x"), "bert-x-1": db.get("bert-x")}
    return tmp_path, placement, w, profiles


def test_simulate_command_prints_attainment_and_writes_rows(cli_files, capsys):
    tmp, placement, w, profiles = cli_files
    rc = main(["simulate", "--placement", str(tmp / "p.json"), "--workload", str(tmp / "w.npz"),
               "--db", str(tmp / "db.pkl"), "--device", "test-gpu", "--per-model", "--out", str(tmp / "r.tsv")])
    out = capsys.readouterr().out
    expected = simulate(placement, w, profiles)
    assert rc == 0 and expected.attainment == 0.75  # the third request would finish at 2.0 > 1.9
    assert "simulating 4 requests" in out and "SLO attainment  75.00%" in out
    assert "p50" in out and "bert-x-1" in out
    rows = (tmp / "r.tsv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("arrival_s\tmodel")
    assert rows[3].split("\t")[rows[0].split("\t").index("outcome")] == "slo"


def test_simulate_command_options_and_errors(cli_files, capsys):
    tmp, placement, w, profiles = cli_files
    args = ["simulate", "--placement", str(tmp / "p.json"), "--workload", str(tmp / "w.npz"),
            "--db", str(tmp / "db.pkl"), "--device", "test-gpu"]
    assert main(args + ["--no-admission", "--routing", "shortest_queue"]) == 0
    assert "SLO attainment  75.00%" in capsys.readouterr().out  # served late instead of rejected
    assert main(args + ["--routing", "fastest"]) == 2
    assert "unknown routing policy 'fastest'" in capsys.readouterr().err
    other = ProfilingDatabase()
    other.add(make_profile("gpt", device="v100-16gb"))
    other.save(tmp / "other.pkl")
    assert main(args[:5] + ["--db", str(tmp / "other.pkl")]) == 2
    assert "no profile on v100-16gb for bert-x-0, bert-x-1 (known: gpt)" in capsys.readouterr().err


def test_simulate_command_takes_a_queue_discipline(cli_files, capsys):
    tmp, placement, w, profiles = cli_files
    args = ["simulate", "--placement", str(tmp / "p.json"), "--workload", str(tmp / "w.npz"),
            "--db", str(tmp / "db.pkl"), "--device", "test-gpu", "--out", str(tmp / "r.tsv")]
    assert main(args + ["--discipline", "srpt", "--fairness-threshold", "10"]) == 0
    out = capsys.readouterr()
    assert "SLO attainment  75.00%" in out.out
    assert "routing earliest_finish is overridden under srpt" in out.err
    assert main(args + ["--discipline", "edf", "--routing", "shortest_queue"]) == 0
    assert "overridden" not in capsys.readouterr().err  # the rule that runs anyway: nothing to say
    assert main(args + ["--fairness-threshold", "10"]) == 0
    assert "--fairness-threshold is ignored under fcfs; it applies with --discipline srpt" in capsys.readouterr().err
    assert main(args + ["--discipline", "srpt", "--fairness-threshold", "10"]) == 0
    rows = [r.split("\t") for r in (tmp / "r.tsv").read_text().splitlines()]
    # Under srpt lateness is found at dispatch: the third request (stage 0 free at 1.0, deadline
    # 1.9, 1.0 s of work) is dropped there, not rejected at arrival.
    assert rows[3][rows[0].index("outcome")] == "doomed"
    with pytest.raises(SystemExit):
        main(args + ["--discipline", "lifo"])
    assert "invalid choice: 'lifo'" in capsys.readouterr().err
