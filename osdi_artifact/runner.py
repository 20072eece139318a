"""Run the points of a suite in parallel over cores, appending one TSV row per point, resumable.

``run_point`` is the whole computation of one row: build the case's workloads, run the policy on
the training traffic, simulate the result on the evaluation traffic. ``run_points`` skips points
whose key is already in the TSV, farms the rest out to ``jobs`` worker processes (one point at a
time each, so the anytime policy gets a whole core for its budget), writes rows as they finish
with a tqdm progress bar, and finally rewrites the file in suite order.

``in_sample=True`` scores each placement on its own training traffic (AlpaServe's published
attainments are in-sample; for reproducing them). The rows say so in ``in_sample`` and
``evaluated_on``, and say their simulator rule set in ``rules`` and their traffic in ``trace_source``;
all three are part of the row's key, and a file holding rows of another rule set, scoring or trace
source (the stand-in against a real trace) is refused rather than resumed or mixed.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, replace
from typing import Sequence

from alpa_serve_like.osdi_artifact.results import ResultsFileError, RowWriter, read_rows, rewrite_in_order, write_rows
from alpa_serve_like.osdi_artifact.suites import Point
from alpa_serve_like.osdi_artifact.workloads import TraceSources, build_case


def _fmt(x: float, digits: int = 6) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def run_point(point: Point, sources: TraceSources = TraceSources(), in_sample: bool = False,
              rules: str = "default") -> dict:
    """The TSV row of ``point`` (errors of the policy or the inputs become the row's ``error``);
    ``in_sample``: scored on the training traffic instead of the held-out traffic; placed and scored
    under the simulator rule set ``rules`` (``scheduling.presets``)."""
    from alpa_serve_like.placement import PlacementInfeasibleError, PlacementOptions
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.scheduling.presets import with_rules
    from alpa_serve_like.placement.evaluate import describe_workload, summarize
    from alpa_serve_like.core.plan import PlacementSchedule
    from alpa_serve_like.simulator import SimOptions, simulate
    from alpa_serve_like.osdi_artifact.policies import run

    case, spec = point.case, point.policy
    row = _row_head(point, sources, in_sample, rules)
    try:
        cluster, models, profiles, train, test = build_case(case, sources)
    except (ValueError, OSError) as exc:
        return {**row, "error": f"inputs: {exc}", "attainment": "nan"}
    if in_sample:
        test = train
    row.update(test_requests=len(test),
               trained_on=describe_workload(train),
               evaluated_on=describe_workload(test) + (" (in-sample)" if in_sample else ""))
    options = PlacementOptions(scheduling=with_rules(SchedulingOptions(), rules), time_budget_s=case.time_budget_s,
                               oracle=spec.oracle)
    try:
        placement, solve_s = run(spec, cluster, models, profiles, train, test, options, case.seed)
    except (PlacementInfeasibleError, ValueError) as exc:
        return {**row, "error": f"{spec.name}: {exc}", "attainment": "nan"}
    # The placement is made as always; it is evaluated under the policy's queue discipline.
    result = simulate(placement, test, profiles,
                      SimOptions(scheduling=replace(options.scheduling, discipline=spec.discipline),
                                 queue_engine=spec.queue_engine))
    pct = result.latency_percentiles_s((50, 90, 99))
    first = placement.segments[0] if isinstance(placement, PlacementSchedule) else placement
    train_att = placement.meta.get("train_attainment", float("nan")) if not isinstance(placement, PlacementSchedule) else float("nan")
    row.update(placement=summarize(placement), num_groups=len(first.groups),
               num_replicas=sum(len(g.models) for g in first.groups), attainment=_fmt(result.attainment),
               p50_s=_fmt(pct["p50"]), p90_s=_fmt(pct["p90"]), p99_s=_fmt(pct["p99"]),
               goodput_rps=_fmt(result.goodput_rps), solve_s=_fmt(solve_s, 4),
               train_attainment=_fmt(float(train_att)), error="")
    return row


def _row_head(point: Point, sources: TraceSources, in_sample: bool, rules: str) -> dict:
    """The columns of ``point``'s row known before anything is computed, its key among them."""
    source = sources.source_of(point.case.trace)
    return {**asdict(point.case), "policy": point.policy.id, "label": point.policy.label, "x": _fmt(point.case.x),
            "rules": rules, "in_sample": int(bool(in_sample)), "trace_source": source,
            "key": point.row_key(rules, in_sample, source)}


def _work(args) -> dict:
    point, sources, in_sample, rules = args
    try:
        return run_point(point, sources, in_sample, rules)
    except Exception:  # a bug in one point must not lose the finished rows of the others
        row = {**_row_head(point, sources, in_sample, rules), "attainment": "nan"}
        return {**row, "error": "crash: " + traceback.format_exc(limit=3).replace("\n", " | ").replace("\t", " ")}


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_points(points: Sequence[Point], out: str, jobs: int | None = None, sources: TraceSources = TraceSources(),
               progress: bool = True, in_sample: bool = False, rules: str = "default") -> dict:
    """Compute every point not yet in ``out`` (``in_sample``: see ``run_point``), under simulator rule
    set ``rules``.

    Returns counts: ``done_before``, ``ran``, ``errors`` (rows with an error text: a policy that
    cannot place the case is a result, not a failure), ``failures`` (rows whose inputs could not be
    built or whose computation crashed: no results, so rows of the file that failed so are computed
    again), ``scored`` (rows of ``points`` in the file with an attainment, ``first_error`` the error
    text of the first row without) and ``seconds``.
    """
    from tqdm import tqdm

    rows = read_rows(out)
    scoring = (rules, str(int(bool(in_sample))))
    other = sorted({(r["rules"], r["in_sample"]) for r in rows} - {scoring})
    if other:
        said = ", ".join(f"rules {r} {'in-sample' if s == '1' else 'held-out'}" for r, s in other)
        raise ResultsFileError(f"{out} holds rows computed under {said}; this run is rules {rules} "
                               f"{'in-sample' if in_sample else 'held-out'}: choose another --out")
    source = {t: sources.source_of(t) for t in sorted({p.case.trace for p in points})}
    rows = _resumable(out, rows)
    mixed = Counter((r["trace"], r["trace_source"]) for r in rows
                    if r["trace"] in source and r["trace_source"] and r["trace_source"] != source[r["trace"]])
    if mixed:
        said = "; ".join(f"{n} row{'s' if n != 1 else ''} computed on {theirs}; this run uses {source[trace]}"
                         for (trace, theirs), n in sorted(mixed.items()))
        raise ResultsFileError(f"{out} holds {said}: choose another --out, or give the trace files the run that "
                               f"wrote it was given")
    key_of = {p: p.row_key(rules, in_sample, source[p.case.trace]) for p in points}
    done = {r["key"] for r in rows}
    todo = [p for p in points if key_of[p] not in done]
    jobs = max(1, min(jobs or default_jobs(), len(todo) or 1))
    # Heavy cases first: the longest points then do not end up alone at the tail of the run.
    todo.sort(key=lambda p: -(p.case.num_devices * p.case.duration_s * p.case.rate_scale))
    tic = time.perf_counter()
    errors = failures = 0
    with RowWriter(out) as writer, tqdm(total=len(todo), disable=not progress, unit="pt", file=sys.stderr,
                                        desc=os.path.basename(out), dynamic_ncols=True) as bar:
        def record(row):
            nonlocal errors, failures
            writer.write(row)
            errors += bool(row.get("error"))
            failures += _failed(row)
            bar.set_postfix_str(f"{row['model_set']} {row['sweep']}={row['x']} {row['policy']}", refresh=False)
            bar.update(1)

        if jobs == 1:
            for p in todo:
                record(_work((p, sources, in_sample, rules)))
        elif todo:
            with multiprocessing.get_context("spawn").Pool(jobs) as pool:
                for row in pool.imap_unordered(_work, [(p, sources, in_sample, rules) for p in todo], chunksize=1):
                    record(row)
    rewrite_in_order(out, [key_of[p] for p in points])
    keys = set(key_of.values())
    mine = [r for r in read_rows(out) if r["key"] in keys]
    return {"done_before": len(points) - len(todo), "ran": len(todo), "errors": errors, "failures": failures,
            "scored": sum(not r["error"] for r in mine),
            "first_error": next((r["error"] for r in mine if r["error"]), ""), "seconds": time.perf_counter() - tic}


def _failed(row: dict) -> bool:
    """A row whose inputs could not be built or whose computation crashed: no result."""
    return str(row.get("error", "")).startswith(("crash:", "inputs:"))


def _resumable(out: str, rows: list[dict]) -> list[dict]:
    """The rows of ``out`` a run may resume (the file is rewritten so): failed rows (``_failed``)
    are dropped, to be computed again, and keys written before keys named their trace source are
    completed from their ``trace_source`` column, so such files resume rather than recompute."""
    kept = [r for r in rows if not _failed(r)]
    old = [r for r in kept if "|source=" not in r["key"] and r["trace_source"]]
    for r in old:
        r["key"] += f"|source={r['trace_source']}"
    if old or len(kept) < len(rows):
        write_rows(out, kept)
    return kept
