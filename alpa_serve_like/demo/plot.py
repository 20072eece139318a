"""The demo's figure, per placement policy, live next to simulated: SLO attainment (the headline),
attainment over time under the trace's load, and the latency CDF.

matplotlib (Agg backend) is imported only here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

BIN_S = 5.0
COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown")


def _over_time(arrival_s: np.ndarray, good: np.ndarray, span_s: float):
    edges = np.arange(0.0, span_s + BIN_S, BIN_S)
    idx = np.clip(np.searchsorted(edges, arrival_s, side="right") - 1, 0, len(edges) - 2)
    total = np.bincount(idx, minlength=len(edges) - 1)
    hit = np.bincount(idx, weights=good.astype(float), minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges[:-1] + BIN_S / 2, 100 * hit / total


def plot_demo(path, test, lives: dict, sims: dict, slo_ms: float, report) -> Path:
    """Write the PNG at ``path``. ``lives``: policy -> replay result (empty without a live run);
    ``sims``: (policy, "simulated" | "simulated_with_overhead") -> simulation result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    policies = list(report.policies)
    color = {p: COLORS[i % len(COLORS)] for i, p in enumerate(policies)}

    def sim_of(policy):
        return sims.get((policy, "simulated_with_overhead")) or sims.get((policy, "simulated"))

    scale = (report.cluster_scale or {}).get("policies", {})
    fig, axes = plt.subplots(1, 4 if scale else 3, figsize=(19 if scale else 15, 4.4),
                             gridspec_kw={"width_ratios": [1.2, 1.2, 1.2, 0.8] if scale else [1, 1, 1]})
    ax = axes[0]
    kinds = [("live (Ray Serve)", lambda p: lives[p].attainment if p in lives else np.nan, 1.0, None),
             ("simulator, as served (calibrated here)", lambda p: sim_of(p).attainment, 0.55, "//"),
             ("simulator (shipped profiles)", lambda p: sims[p, "simulated"].attainment, 0.3, "..")]
    width = 0.8 / len(kinds)
    for k, (label, value, alpha, hatch) in enumerate(kinds):
        vals = [100 * value(p) for p in policies]
        bars = ax.bar(np.arange(len(policies)) + k * width, vals, width, alpha=alpha, hatch=hatch,
                      color=[color[p] for p in policies], edgecolor="black", label=label)
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(np.arange(len(policies)) + width * (len(kinds) - 1) / 2)
    ax.set_xticklabels([f"{p}\n{report.policies[p].placement}" for p in policies], fontsize=8)
    finite = [100 * v(p) for _, v, _, _ in kinds for p in policies if np.isfinite(v(p))]
    ax.set_ylim(max(0.0, min(finite + [90.0]) - 5), 101)
    live_slo = [r.live_slo_ms for r in report.policies.values() if np.isfinite(r.live_slo_ms)]
    ax.set_ylabel(f"SLO attainment (%), SLO {slo_ms:g} ms" + (f" (live: {live_slo[0]:g} ms)" if live_slo else ""))
    ax.set_title("same requests, two placements")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3, axis="y")

    ax = axes[1]
    span = float(test.meta.get("span_s", test.arrival_s[-1] if len(test) else 1.0))
    for p in policies:
        if p in lives:
            t, att = _over_time(test.arrival_s, lives[p].good, span)
            ax.plot(t, att, marker="o", ms=3, color=color[p], label=f"{p} live")
        t, att = _over_time(test.arrival_s, sim_of(p).good, span)
        ax.plot(t, att, ls="--", color=color[p], alpha=0.7, label=f"{p} simulated")
    counts = np.histogram(test.arrival_s, bins=np.arange(0.0, span + BIN_S, BIN_S))[0]
    ax2 = ax.twinx()
    ax2.bar(np.arange(len(counts)) * BIN_S + BIN_S / 2, counts / BIN_S, width=BIN_S * 0.9, color="gray", alpha=0.15)
    ax2.set_ylabel("offered load (req/s)", color="gray")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlabel(f"time (s, {BIN_S:g} s bins)")
    ax.set_ylabel("SLO attainment (%)")
    ax.set_title("attainment over time (bars: load)")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)

    ax = axes[2]
    for p in policies:
        curves = [(f"{p} simulated", sim_of(p), "--")]
        if p in lives:
            curves.insert(0, (f"{p} live", None, "-"))
        for label, sim, ls in curves:
            lat = (np.where(lives[p].status == 200, lives[p].latency_s, np.nan) if sim is None
                   else np.where(sim.reason == 0, sim.latency_s, np.nan))
            x = np.sort(lat[np.isfinite(lat)] * 1e3)
            if x.size:
                ax.plot(x, 100 * np.arange(1, x.size + 1) / len(lat), ls=ls, color=color[p], label=label)
    ax.axvline(slo_ms, color="black", ls=":", lw=1, label=f"SLO {slo_ms:g} ms")
    if live_slo:
        ax.axvline(live_slo[0], color="black", ls="-.", lw=1, label=f"live SLO {live_slo[0]:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("requests served within (%, of all)")
    ax.set_title("latency CDF")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)

    if scale:
        ax = axes[3]
        names = list(scale)
        vals = [100 * float(scale[p]["sim_attainment"]) for p in names]
        bars = ax.bar(names, vals, color=[color.get(p, "gray") for p in names], edgecolor="black", alpha=0.55,
                      hatch="//")
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(max(0.0, min(vals + [90.0]) - 10), 101)
        ax.set_ylabel("SLO attainment (%), simulator")
        ax.set_title("cluster scale: 72 models, 32 V100s\n(same LLM trace, simulator only)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")

    title = f"demo: {len(test)} requests of the Azure LLM trace" if "Azure" in report.traffic else \
        f"demo: {len(test)} requests (synthetic stand-in)"
    if not lives:
        title += "  |  live serving not run"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
