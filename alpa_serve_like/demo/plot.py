"""The demo's figure: latency CDF, SLO attainment over time, and per-model attainment, live vs simulated.

matplotlib (Agg backend) is imported only here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

BIN_S = 5.0


def _over_time(arrival_s: np.ndarray, good: np.ndarray, span_s: float):
    edges = np.arange(0.0, span_s + BIN_S, BIN_S)
    idx = np.clip(np.searchsorted(edges, arrival_s, side="right") - 1, 0, len(edges) - 2)
    total = np.bincount(idx, minlength=len(edges) - 1)
    hit = np.bincount(idx, weights=good.astype(float), minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges[:-1] + BIN_S / 2, 100 * hit / total


def plot_demo(path, test, live, sims: dict, slo_ms: float, report) -> Path:
    """Write the PNG at ``path``; ``live`` may be None (no live run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []  # (label, style, per-request good, latency s with NaN for unserved)
    if live is not None:
        series.append(("live (Ray Serve)", dict(color="tab:blue", lw=2),
                       live.good, np.where(live.status == 200, live.latency_s, np.nan)))
    names = {"simulated": "simulator", "simulated_with_overhead": f"simulator + {report.overhead_ms:.1f} ms overhead"}
    styles = {"simulated": dict(color="tab:gray", ls="--"), "simulated_with_overhead": dict(color="tab:red", ls="-.")}
    for key, sim in sims.items():
        series.append((names[key], styles[key], sim.good, np.where(sim.reason == 0, sim.latency_s, np.nan)))

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ax = axes[0]
    for label, style, _, lat in series:
        x = np.sort(lat[np.isfinite(lat)] * 1e3)
        if x.size:
            ax.plot(x, 100 * np.arange(1, x.size + 1) / len(lat), label=label, **style)
    ax.axvline(slo_ms, color="black", ls=":", lw=1, label=f"SLO {slo_ms:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("requests served within (%, of all)")
    ax.set_title("latency CDF")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1]
    span = float(test.meta.get("span_s", test.arrival_s[-1] if len(test) else 1.0))
    for label, style, good, _ in series:
        t, att = _over_time(test.arrival_s, good, span)
        ax.plot(t, att, marker="o", ms=3, label=label, **style)
    counts = np.histogram(test.arrival_s, bins=np.arange(0.0, span + BIN_S, BIN_S))[0]
    ax2 = ax.twinx()
    ax2.bar(np.arange(len(counts)) * BIN_S + BIN_S / 2, counts / BIN_S, width=BIN_S * 0.9, color="tab:green", alpha=0.15)
    ax2.set_ylabel("offered load (req/s)", color="tab:green")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.axhline(99, color="black", ls="--", lw=0.8)
    ax.set_xlabel(f"time (s, {BIN_S:g} s bins)")
    ax.set_ylabel("SLO attainment (%)")
    ax.set_title("attainment over time (bars: load)")
    ax.grid(alpha=0.3)

    ax = axes[2]
    width = 0.8 / max(1, len(series))
    for k, (label, style, good, _) in enumerate(series):
        att = [100 * good[test.model_id == i].mean() if np.any(test.model_id == i) else np.nan
               for i in range(len(test.model_names))]
        ax.bar(np.arange(len(att)) + k * width, att, width, label=label, color=style["color"], alpha=0.8)
    ax.set_xticks(np.arange(len(test.model_names)) + width * (len(series) - 1) / 2)
    ax.set_xticklabels(test.model_names, fontsize=8)
    ax.set_ylabel("SLO attainment (%)")
    ax.set_title("per model")
    ax.legend(fontsize=7, loc="lower right")
    lo = min([100 * s[2].mean() for s in series if s[2].size] + [90.0])
    ax.set_ylim(max(0, lo - 10), 101)
    ax.grid(alpha=0.3, axis="y")

    title = f"demo: {report.placement}  |  {len(test)} requests"
    if live is None:
        title += "  |  live serving not run"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
