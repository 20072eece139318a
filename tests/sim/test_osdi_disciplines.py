"""The queue-discipline sweep on AlpaServe placements: rows, resume keys and the same placement
evaluated under each discipline (a small case; the quick suite's numbers are in the README)."""
import csv
from dataclasses import replace

import pytest

from alpa_serve_like.osdi_artifact import suites
from alpa_serve_like.osdi_artifact.policies import run
from alpa_serve_like.osdi_artifact.runner import run_points
from alpa_serve_like.osdi_artifact.workloads import build_case
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.simulator import SimOptions, simulate


def test_each_discipline_evaluates_the_same_placement(tmp_path):
    base = suites.Case("disciplines", "S1", "maf1", 16, 40.0, 30.0, time_budget_s=1.0)
    policies = tuple(suites.with_discipline(suites.SR, d) for d in suites.DISCIPLINES) + (
        suites.with_discipline(suites.SR, "fcfs", queue_engine=True),)
    pts = suites.points(suites.Suite("t", (base,), (suites.Sweep("rate_scale", (2.0,)),), policies))
    out = tmp_path / "d.tsv"
    stats = run_points(pts, str(out), jobs=1, progress=False)
    assert stats["ran"] == 4 and stats["errors"] == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["policy"] for r in rows] == ["sr-greedy", "sr-greedy@srpt", "sr-greedy@edf", "sr-greedy@fcfs-queues"]
    assert [r["label"] for r in rows] == ["SR fcfs", "SR srpt", "SR edf", "SR fcfs (queues)"]
    assert len({r["placement"] for r in rows}) == 1
    # Each row is the placement simulated directly under its own discipline (and engine).
    cluster, models, profiles, train, test = build_case(pts[0].case)
    options = PlacementOptions(time_budget_s=base.time_budget_s)
    placement, _ = run(suites.SR, cluster, models, profiles, train, test, options, base.seed)
    direct = [simulate(placement, test, profiles, SimOptions(
        scheduling=replace(options.scheduling, discipline=p.policy.discipline), queue_engine=p.policy.queue_engine)
    ).attainment for p in pts]
    assert [float(r["attainment"]) for r in rows] == pytest.approx(direct, rel=1e-5)
    assert len(set(direct)) > 1, "the case must tell the disciplines apart"
    assert run_points(pts, str(out), jobs=1, progress=False)["done_before"] == 4  # resumed, nothing re-run
