"""Train on one workload, evaluate on another: the default way to run and compare policies.

A policy only ever sees ``train`` (online policies, Clockwork++, may also read the evaluated
traffic strictly before "now": each window is planned from the previous one, unless the oracle
option is set, which is then stated in the result). ``evaluate`` refuses to score on the very
workload the policy trained on unless told ``allow_same=True``; every result names both.

``in_sample=True`` scores on the training workload itself (place and score on the same requests),
the way AlpaServe's published attainments were measured; it is for reproducing those numbers, and
the result says so. Held-out scoring stays the default.
"""
from __future__ import annotations

import csv
import time
import zlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from alpa_serve_like.core.hardware import ClusterSpec
from alpa_serve_like.core.plan import Placement, PlacementSchedule
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.memory import PlacementInfeasibleError
from alpa_serve_like.placement.options import PlacementOptions
from alpa_serve_like.placement.partitions import describe
from alpa_serve_like.placement.registry import resolve_policy


def policy_rng(seed: int, policy: str) -> np.random.Generator:
    """A generator that depends only on the seed and the policy's name (not on the order of a list)."""
    return np.random.default_rng([int(seed), zlib.crc32(policy.encode())])


def describe_workload(w: Workload) -> str:
    name = w.meta.get("name") or w.meta.get("path") or w.meta.get("source") or "workload"
    extra = f" seed={w.meta['seed']}" if "seed" in w.meta else ""
    span = f"[{w.arrival_s[0]:.0f}s, {w.arrival_s[-1]:.0f}s]" if len(w) else "[]"
    return f"{name}{extra} {len(w)} requests {span}"


def run_policy(
    policy: str,
    cluster: ClusterSpec,
    models: Sequence[str],
    profiles: Mapping[str, ModelProfile],
    train: Workload,
    options: PlacementOptions,
    rng: np.random.Generator,
    observed: Workload | None = None,
) -> tuple[Placement | PlacementSchedule, float]:
    """Run one policy; returns the placement and the wall-clock solve time in seconds."""
    entry, fn = resolve_policy(policy)
    kwargs = {"observed": observed} if entry.online and observed is not None else {}
    tic = time.perf_counter()
    result = fn(cluster, list(models), profiles, train, options, rng, **kwargs)
    return result, time.perf_counter() - tic


@dataclass(frozen=True)
class PolicyResult:
    """One row of a comparison: how a policy trained on ``trained_on`` did on ``evaluated_on``."""

    policy: str
    test_attainment: float
    train_attainment: float
    solve_s: float
    summary: str
    trained_on: str
    evaluated_on: str
    placement: Placement | PlacementSchedule | None = field(default=None, compare=False)
    error: str = ""
    note: str = ""
    solve_cpu_s: float = float("nan")
    """CPU seconds of the solve, every thread of this process (on a shared machine the fair figure)."""


def summarize(placement: Placement | PlacementSchedule) -> str:
    """``8x(op1,pp4) 75 replicas``; a schedule reports its window count and first window."""
    if isinstance(placement, PlacementSchedule):
        return f"{len(placement.segments)} windows, first: {summarize(placement.segments[0])}"
    replicas = sum(len(g.models) for g in placement.groups)
    return f"{describe(tuple(g.config for g in placement.groups))} {replicas} replicas"


def simulated_attainment(placement, workload: Workload, profiles, sim_options) -> float:
    """SLO attainment of a placement or schedule on ``workload`` by the simulator."""
    from alpa_serve_like.simulator import simulate

    return float(simulate(placement, workload, profiles, sim_options).attainment)


def train_and_evaluate(
    policy: str,
    cluster: ClusterSpec,
    models: Sequence[str],
    profiles: Mapping[str, ModelProfile],
    train: Workload,
    test: Workload,
    options: PlacementOptions | None = None,
    seed: int = 0,
    allow_same: bool = False,
    labels: tuple[str, str] | None = None,
    evaluator=simulated_attainment,
    in_sample: bool = False,
) -> PolicyResult:
    """Place with ``policy`` trained on ``train``, simulate on ``test``; errors become a row.

    ``labels`` name the two workloads in the result (default: from their meta and sizes);
    ``evaluator(placement, workload, profiles, sim_options) -> attainment`` scores the result.
    ``in_sample``: score on ``train`` instead (``test`` is ignored and may be None); online
    policies then also observe ``train``.
    """
    options = options or PlacementOptions()
    if in_sample:
        test, allow_same = train, True
        trained_on = labels[0] if labels else describe_workload(train)
        labels = (trained_on, trained_on + " (in-sample)")
    if not allow_same and (test is train or _same_requests(train, test)):
        raise ValueError("train and test are the same workload: evaluate on different traffic "
                         "(another seed or a later window), or pass allow_same=True to do it anyway")
    trained_on, evaluated_on = labels or (describe_workload(train), describe_workload(test))
    entry, _ = resolve_policy(policy)
    cpu_s = time.process_time()
    try:
        placement, solve_s = run_policy(policy, cluster, models, profiles, train, options,
                                        policy_rng(seed, policy), observed=test if entry.online else None)
        cpu_s = time.process_time() - cpu_s
    except (PlacementInfeasibleError, ValueError) as exc:
        return PolicyResult(policy, float("nan"), float("nan"), float("nan"), "-", trained_on, evaluated_on,
                            error=str(exc))
    note = ""
    if entry.online:
        note = ("oracle: each window planned on its own evaluated traffic" if options.oracle else
                "online: window k planned from the evaluated traffic of window k-1")
    return PolicyResult(
        policy=policy,
        test_attainment=evaluator(placement, test, profiles, options.sim_options),
        train_attainment=evaluator(placement, train, profiles, options.sim_options)
        if not entry.online else float("nan"),
        solve_s=solve_s,
        summary=summarize(placement),
        trained_on=trained_on,
        evaluated_on=evaluated_on,
        placement=placement,
        note=note,
        solve_cpu_s=cpu_s,
    )


def _same_requests(a: Workload, b: Workload) -> bool:
    return (len(a) == len(b) and a.model_names == b.model_names and np.array_equal(a.arrival_s, b.arrival_s)
            and np.array_equal(a.model_id, b.model_id))


def compare_policies(policies: Sequence[str], cluster, models, profiles, train, test,
                     options: PlacementOptions | None = None, seed: int = 0, progress=None,
                     labels: tuple[str, str] | None = None,
                     evaluator=simulated_attainment, in_sample: bool = False) -> list[PolicyResult]:
    """``train_and_evaluate`` for each policy, in the given order (``in_sample``: score on ``train``)."""
    rows = []
    for name in policies:
        resolve_policy(name)  # fail fast on a typo before spending minutes on the others
    for name in policies:
        if progress:
            progress(name)
        rows.append(train_and_evaluate(name, cluster, models, profiles, train, test, options, seed,
                                       labels=labels, evaluator=evaluator, in_sample=in_sample))
    return rows


COLUMNS = ("policy", "test_attainment_pct", "train_attainment_pct", "solve_s", "placement", "note")


def _row_values(r: PolicyResult) -> list[str]:
    pct = lambda x: "-" if np.isnan(x) else f"{100 * x:.2f}"
    return [r.policy, pct(r.test_attainment), pct(r.train_attainment),
            "-" if np.isnan(r.solve_s) else f"{r.solve_s:.2f}", r.summary, r.error or r.note]


def format_table(rows: Sequence[PolicyResult]) -> str:
    """Aligned text table plus a line saying what was trained and evaluated on."""
    header = ["policy", "test SLO att. %", "train att. %", "solve s", "placement", "note"]
    body = [_row_values(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)).rstrip() for b in body]
    if rows:
        lines.append(f"trained on {rows[0].trained_on}; evaluated on {rows[0].evaluated_on}")
    return "\n".join(lines)


def write_tsv(rows: Sequence[PolicyResult], path) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS + ("trained_on", "evaluated_on"))
        for r in rows:
            out.writerow(_row_values(r) + [r.trained_on, r.evaluated_on])
