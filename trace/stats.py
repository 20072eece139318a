"""Per-model summary of a workload: requests, rate, inter-arrival CV (the ``trace info`` table)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from alpa_serve_like.core.workload import Workload


def model_stats(w: Workload) -> pd.DataFrame:
    """One row per model: requests, rate (requests / span), gap CV (std/mean of its inter-arrival
    gaps; NaN with fewer than 3 requests), SLO range and mean size when sizes exist."""
    span = w.span_s if w.span_s > 0 else np.nan
    order = np.argsort(w.model_id, kind="stable")  # arrivals stay sorted within each model
    bounds = np.searchsorted(w.model_id[order], np.arange(len(w.model_names) + 1))
    rows = []
    for i, name in enumerate(w.model_names):
        idx = order[bounds[i]:bounds[i + 1]]
        t = w.arrival_s[idx]
        gaps = np.diff(t)
        cv = float(gaps.std(ddof=1) / gaps.mean()) if len(gaps) >= 2 and gaps.mean() > 0 else np.nan
        row = {"model": name, "requests": len(idx), "rate_per_s": len(idx) / span, "cv": cv,
               "slo_min_s": float(w.slo_s[idx].min()) if len(idx) else np.nan,
               "slo_max_s": float(w.slo_s[idx].max()) if len(idx) else np.nan}
        if w.size is not None:
            row["mean_size"] = float(w.size[idx].mean()) if len(idx) else np.nan
        if w.output_size is not None:
            row["mean_output_size"] = float(w.output_size[idx].mean()) if len(idx) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
