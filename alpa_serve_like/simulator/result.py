"""SimResult: per-request outcomes of one simulation and the metrics derived from them.

Metric conventions: only *measured* requests count (those arriving at least ``warmup_s`` after the
first arrival). A request meets its SLO when it was admitted and finished by its deadline;
rejected requests are misses. Latency percentiles are over admitted (served) measured requests
only. Goodput is SLO-meeting measured requests per second of measured arrival span. Utilisation of
a group is the busy time of its busiest (bottleneck) stage over its segment's time window (from the
segment start, or the first arrival, to the later of the next segment's start, or the last
arrival, and the last finish of the segment's requests), warm-up included.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alpa_serve_like.scheduling import RejectReason
from alpa_serve_like.simulator.options import SimOptions


@dataclass(frozen=True, eq=False)
class SimResult:
    """Outcome of ``simulate``: arrays per request (in workload order) plus metrics."""

    model_names: tuple[str, ...]
    arrival_s: np.ndarray
    model_id: np.ndarray
    deadline_s: np.ndarray
    segment: np.ndarray  # int32: placement segment the request arrived in
    group: np.ndarray  # int32: group index within its segment's placement, -1 if rejected
    reason: np.ndarray  # int8: RejectReason value (0 = admitted)
    batch: np.ndarray  # int64: batch id (unique over the run), -1 if rejected
    start_s: np.ndarray  # float64: stage-0 start of its batch, NaN if rejected
    finish_s: np.ndarray  # float64: last-stage finish of its batch, NaN if rejected
    measured: np.ndarray  # bool: counted in metrics (after warm-up)
    group_utilisation: tuple[np.ndarray, ...]  # per segment, (groups,)
    options: SimOptions
    meta: dict = field(default_factory=dict)

    # ---- derived per request ---------------------------------------------------------------------
    @property
    def latency_s(self) -> np.ndarray:
        return self.finish_s - self.arrival_s

    @property
    def good(self) -> np.ndarray:
        """Admitted and finished by the deadline (NaN finishes compare False)."""
        return (self.reason == 0) & (self.finish_s <= self.deadline_s)

    # ---- metrics ---------------------------------------------------------------------------------
    @property
    def num_measured(self) -> int:
        return int(self.measured.sum())

    @property
    def attainment(self) -> float:
        """Fraction of measured requests that met their SLO (NaN when none are measured)."""
        n = self.num_measured
        return float((self.good & self.measured).sum() / n) if n else float("nan")

    def per_model_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(SLO-meeting, total) measured requests per model id."""
        m = len(self.model_names)
        good = np.bincount(self.model_id[self.good & self.measured], minlength=m)
        total = np.bincount(self.model_id[self.measured], minlength=m)
        return good, total

    @property
    def per_model_attainment(self) -> dict[str, float]:
        """Model name -> attainment; models with no measured requests are left out."""
        good, total = self.per_model_counts()
        return {n: float(good[i] / total[i]) for i, n in enumerate(self.model_names) if total[i]}

    def latency_percentiles_s(self, qs=(50, 90, 99)) -> dict[str, float]:
        """``{"p50": s, ...}`` over admitted measured requests (NaN when there are none)."""
        lat = self.latency_s[self.measured & (self.reason == 0)]
        if len(lat) == 0:
            return {f"p{q:g}": float("nan") for q in qs}
        values = np.percentile(lat, qs)
        return {f"p{q:g}": float(v) for q, v in zip(qs, values)}

    @property
    def goodput_rps(self) -> float:
        arr = self.arrival_s[self.measured]
        span = float(arr[-1] - arr[0]) if len(arr) > 1 else 0.0
        return float((self.good & self.measured).sum() / span) if span > 0 else float("nan")

    @property
    def rejected(self) -> dict[str, int]:
        """Measured rejections by reason label (``group_down`` is runtime-only: no failures here)."""
        out = {}
        for r in RejectReason:
            if r not in (RejectReason.NONE, RejectReason.GROUP_DOWN):
                out[r.label] = int(((self.reason == int(r)) & self.measured).sum())
        return out

    # ---- views -----------------------------------------------------------------------------------
    def to_dataframe(self):
        """One row per request (pandas is imported only here)."""
        import pandas as pd

        labels = np.array([r.label if r else "served" for r in RejectReason], dtype=object)
        return pd.DataFrame({
            "arrival_s": self.arrival_s,
            "model": pd.Categorical.from_codes(self.model_id, categories=list(self.model_names)),
            "deadline_s": self.deadline_s,
            "segment": self.segment,
            "group": self.group,
            "batch": self.batch,
            "start_s": self.start_s,
            "finish_s": self.finish_s,
            "latency_s": self.latency_s,
            "outcome": labels[self.reason.astype(np.int64)],
            "met_slo": self.good,
            "measured": self.measured,
        })

    def summary(self) -> str:
        pct = self.latency_percentiles_s()
        util = np.concatenate(self.group_utilisation) if self.group_utilisation else np.zeros(0)
        rej = ", ".join(f"{k} {v:,}" for k, v in self.rejected.items())
        lines = [
            f"requests        {len(self.arrival_s):,} ({self.num_measured:,} measured after {self.options.warmup_s:g} s warm-up)",
            f"SLO attainment  {100 * self.attainment:.2f}%",
            "latency (served) " + "  ".join(f"{k} {1e3 * v:.1f} ms" for k, v in pct.items()),
            f"goodput         {self.goodput_rps:.2f} req/s",
            f"rejected        {rej}",
        ]
        if len(util):
            lines.append(f"utilisation     mean {util.mean():.2f}, max {util.max():.2f} over {len(util)} groups")
        return "\n".join(lines)
