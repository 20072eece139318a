"""Plot a gen_data_paella TSV: Paella's three figures on the kernel-level GPU model.

Panels: p99 latency vs achieved throughput per system for the 8-model mix and for resnet18 +
inception_v3; mean latency of each of the two models as the fairness threshold U sweeps (log x).
Usage: ``python -m alpa_serve_like.osdi_artifact.plot_paella X.tsv [--out PREFIX]`` writes PREFIX.pdf and .png.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

from alpa_serve_like.osdi_artifact.paella_runner import PAELLA_COLUMNS
from alpa_serve_like.osdi_artifact.paella_suite import FAIRNESS_MODELS, SYSTEM_ORDER
from alpa_serve_like.osdi_artifact.plot_common import plot_command, save_figure
from alpa_serve_like.osdi_artifact.results import read_rows

COLORS = {"cuda-ss": "tab:gray", "cuda-ms": "tab:orange", "paella-ss": "tab:olive", "paella-ms-jbj": "tab:purple",
          "paella-ms-kbk": "tab:cyan", "paella": "tab:red", "resnet18": "tab:blue", "inception_v3": "tab:green"}
MARKERS = "osD^v*"


def _f(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def plot_paella(tsv: str, out_prefix: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_rows(tsv, PAELLA_COLUMNS) if not r["error"]]
    if not rows:
        raise ValueError(f"{tsv} has no rows to plot; run gen_data_paella first")
    device = rows[0]["device"].upper()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    titles = {"mix8": f"8-model mix, {device}", "extreme2": f"resnet18 95% + inception_v3 5%, {device}"}
    for ax, figure in zip(axes[:2], ("mix8", "extreme2")):
        for k, system in enumerate(SYSTEM_ORDER):
            pts = sorted((_f(r["throughput_rps"]), _f(r["p99_ms"])) for r in rows
                         if r["figure"] == figure and r["system"] == system and r["model"] == "all")
            if pts:
                # dashed: paella-ss lies on cuda-ss in this model (both run one kernel at a time)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=MARKERS[k], ms=4, lw=1.3, label=system,
                        color=COLORS[system], ls="--" if system == "paella-ss" else "-")
        ax.set_yscale("log")
        ax.set_xlabel("achieved throughput (jobs/s)", fontsize=8)
        ax.set_ylabel("p99 latency (ms)", fontsize=8)
        ax.set_title(titles[figure], fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, frameon=False)
    ax = axes[2]
    fair = [r for r in rows if r["figure"] == "fairness"]
    for model in FAIRNESS_MODELS:
        pts = sorted((_f(r["fairness_threshold"]), _f(r["mean_ms"])) for r in fair if r["model"] == model)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=4, lw=1.3, label=model,
                    color=COLORS[model])
    ax.set_xscale("log")
    ax.set_xlabel("fairness threshold U", fontsize=8)
    ax.set_ylabel("mean latency (ms)", fontsize=8)
    load = fair[0]["load_scale"] if fair else "?"
    ax.set_title(f"paella, U sweep at {load}x serial capacity", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    fig.suptitle("Paella (SOSP'23) on the kernel-level GPU model (estimated kernels, simulated)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_prefix)


def main(argv=None) -> int:
    return plot_command("paella", plot_paella, argv)


if __name__ == "__main__":
    sys.exit(main())
