"""Plot a gen_data_paris TSV: SLO attainment vs load, one panel per SLO scale.

Colour = partitioning, line style = dispatch policy. Usage:
``python -m alpa_serve_like.osdi_artifact.plot_paris X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from alpa_serve_like.osdi_artifact.plot_common import plot_command, save_figure

STYLES = {"earliest_finish": "-", "shortest_queue": ":", "elsa": "--"}
COLOURS = {"paris": "tab:red", "7x1g": "tab:gray", "3x2g+1g": "tab:green", "2x3g": "tab:blue", "1x7g": "tab:purple"}


def plot(tsv: str, prefix: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(tsv, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "slo_attainment" not in rows[0]:
        raise ValueError(f"{tsv} is not a gen_data_paris TSV (no slo_attainment column); run gen_data_paris first")
    scales = sorted({float(r["slo_scale"]) for r in rows})
    fig, axes = plt.subplots(1, len(scales), figsize=(5.0 * len(scales), 4.0), squeeze=False)
    for ax, scale in zip(axes[0], scales):
        panel = [r for r in rows if float(r["slo_scale"]) == scale]
        lines = dict.fromkeys((r["config"], r["dispatch"]) for r in panel)
        for config, dispatch in lines:
            pts = sorted((float(r["load_rps"]), 100 * float(r["slo_attainment"])) for r in panel
                         if (r["config"], r["dispatch"]) == (config, dispatch))
            ax.plot([x for x, _ in pts], [y for _, y in pts], STYLES.get(dispatch, "-."), marker="o", ms=3,
                    color=COLOURS.get(config), label=f"{config} / {dispatch}", lw=1.2)
        ax.axhline(99.0, ls="--", color="black", lw=0.8)
        ax.set_title(f"SLO = {scale:g} x 7g latency of the largest batch ({float(panel[0]['slo_ms']):.1f} ms), "
                     f"{panel[0]['gpus']} GPUs", fontsize=8)
        ax.set_xlabel("load (queries/s)", fontsize=8)
        ax.set_ylabel("SLO attainment (%)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=6.5, frameon=False)
    fig.suptitle(f"MIG partitionings of A100-80GB, {rows[0]['network']} (simulated, calibrated on MIGPerf)", fontsize=10)
    fig.tight_layout(rect=(0, 0.18, 1, 0.95))
    return save_figure(fig, prefix)


def main(argv=None) -> int:
    return plot_command("paris", plot, argv)


if __name__ == "__main__":
    sys.exit(main())
