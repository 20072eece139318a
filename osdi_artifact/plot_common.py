"""Turning a results TSV into a figure: one row of panels per (model set, trace), one panel per sweep.

Each panel plots SLO attainment (%) on the evaluation traffic against the swept value, one line per
policy (legend names as users know them), with a dashed line at 99%. Points whose policy failed
(for example SR when the cluster cannot hold every model once) are left out and listed under the
figure. matplotlib (Agg backend) is imported only here and in the ``plot_*`` scripts.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from alpa_serve_like.osdi_artifact.results import read_rows
from alpa_serve_like.osdi_artifact.suites import CASE_FIELDS, MODEL_SET_TEXT

COLORS = {
    "SR": "tab:gray", "Clockwork++ (oracle)": "tab:orange", "AlpaServe": "tab:blue", "AlpaServe (sep)": "tab:cyan",
    "Ours (anneal)": "tab:red", "Round robin": "tab:olive", "Greedy (4-device pipelines)": "tab:purple",
    "SR fcfs": "tab:gray", "SR fcfs (queues)": "black", "SR srpt": "silver", "SR edf": "dimgray",
    "AlpaServe fcfs": "tab:blue", "AlpaServe fcfs (queues)": "tab:purple", "AlpaServe srpt": "tab:red",
    "AlpaServe edf": "tab:green",
    "(pp=16, op=1)": "tab:brown", "(pp=8, op=2)": "tab:pink", "(pp=4, op=4)": "tab:olive", "(pp=2, op=8)": "tab:gray",
}
MARKERS = "osD^v<>ph*"


def x_label(sweep: str, rows: list[dict]) -> str:
    def one(col):
        vals = {r[col] for r in rows}
        return f"{float(vals.pop()):g}" if len(vals) == 1 else "base"

    return {
        "num_devices": "number of devices",
        "rate_scale": f"rate scale (1 = {one('total_rate')} req/s)",
        "cv_scale": "CV scale",
        "slo_scale": "SLO scale (x single-device latency)",
        "test_offset": f"evaluation window offset (x {one('duration_s')} s)",
        "test_rate_scale": "evaluation rate / training rate",
        "test_cv_scale": "evaluation CV / training CV",
    }.get(sweep, sweep)


def trace_text(rows: list[dict]) -> str:
    src = rows[0].get("trace_source", "")
    name = rows[0]["trace"].upper()
    return f"{name} (real)" if src.startswith("real") else f"{name} (synthetic stand-in)"


def check_one_row_per_point(tsv, rows: list[dict]) -> None:
    """Refuse a file holding two rows for one point of a panel (runs of other settings appended to
    one --out, e.g. a full and a --quick run): their lines would zigzag between the two."""
    seen: dict = {}
    for r in rows:
        point = (r["model_set"], r["trace"], r["sweep"], r["x"], r["label"])
        if point in seen:
            other = next((k for k in CASE_FIELDS + ("policy", "trace_source", "rules", "in_sample")
                          if seen[point].get(k) != r.get(k)), "key")
            raise ValueError(f"{tsv} holds two rows for {r['label']} at {r['sweep']}={r['x']} ({r['model_set']}, "
                             f"{r['trace']}) that differ in {other} ({seen[point].get(other)} vs {r.get(other)}): "
                             f"runs of other settings share this file; rerun each with its own --out")
        seen[point] = r


def footnote(rows: list[dict], missing: list[str]) -> str:
    """What the attainment was measured on (the file's rows are all held-out or all in-sample:
    ``runner.run_points`` refuses to mix them) and the points not plotted."""
    if any(r.get("in_sample") == "1" for r in rows):
        note = "Attainment on the training traffic itself (in-sample, as AlpaServe's published numbers)."
    else:
        note = "Attainment on evaluation traffic drawn separately from the training traffic."
    if missing:
        shown = "; ".join(missing[:6]) + (f"; ... ({len(missing)} in all)" if len(missing) > 6 else "")
        note += f" Failed (not plotted): {shown}."
    return note


def _float(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def plot_results(tsv: str | os.PathLike, out_prefix: str | os.PathLike, title: str) -> list[Path]:
    """Write ``out_prefix``.pdf and .png from ``tsv``; returns the two paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(tsv)
    if not rows:
        raise ValueError(f"{tsv} has no rows to plot; run the matching gen_data_* script first")
    if not any(math.isfinite(_float(r.get("attainment"))) for r in rows):  # an empty figure says nothing
        raise ValueError(f"every row of {tsv} failed, so there is nothing to plot (first: "
                         f"{rows[0].get('error') or 'no attainment'}); fix that, delete {tsv} and run it again")
    check_one_row_per_point(tsv, rows)
    blocks: OrderedDict = OrderedDict()
    for r in rows:
        blocks.setdefault((r["model_set"], r["trace"]), OrderedDict()).setdefault(r["sweep"], []).append(r)
    sweeps = list(OrderedDict.fromkeys(r["sweep"] for r in rows))
    labels = list(OrderedDict.fromkeys(r["label"] for r in rows))
    nrows, ncols = len(blocks), len(sweeps)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows + 1.0), squeeze=False)
    missing = []
    for i, ((model_set, _), by_sweep) in enumerate(blocks.items()):
        for j, sweep in enumerate(sweeps):
            ax = axes[i][j]
            panel = by_sweep.get(sweep, [])
            if not panel:
                ax.set_visible(False)
                continue
            for k, label in enumerate(labels):
                pts = sorted((_float(r["x"]), 100 * _float(r["attainment"])) for r in panel if r["label"] == label
                             and not r["error"] and not math.isnan(_float(r["attainment"])))
                missing += [f"{label} at {sweep}={r['x']}" for r in panel if r["label"] == label and r["error"]]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=MARKERS[k % len(MARKERS)], ms=4,
                            lw=1.4, label=label, color=COLORS.get(label))
            ax.axhline(99.0, ls="--", color="black", lw=0.9)
            ax.set_xlabel(x_label(sweep, panel), fontsize=8)
            if j == 0:
                ax.set_ylabel("SLO attainment (%)", fontsize=8)
            ax.set_title(f"{MODEL_SET_TEXT.get(model_set, model_set).split(':')[0]}, {trace_text(panel)}", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            lo = min([100 * _float(r["attainment"]) for r in panel if not math.isnan(_float(r["attainment"]))] + [98.0])
            ax.set_ylim(max(0.0, lo - 2.0), 100.5)
    handles, names = [], []
    for ax in axes.flat:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    order = [names.index(lb) for lb in labels if lb in names]
    height = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.08 / height, va="top", fontsize=10)
    fig.legend([handles[o] for o in order] + [plt.Line2D([], [], ls="--", color="black")],
               [names[o] for o in order] + ["99% attainment"], loc="upper center", ncol=min(7, len(order) + 1),
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1 - 0.32 / height))
    note = footnote(rows, missing)
    fig.text(0.01, 0.06 / height, note, fontsize=6.5, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1 - 0.5 / height))
    return save_figure(fig, out_prefix)


def save_figure(fig, out_prefix) -> list[Path]:
    """Write ``fig`` as ``OUT_PREFIX.pdf`` and ``OUT_PREFIX.png`` (130 dpi; a prefix ending in .pdf or
    .png loses it), making the folder, and close it; returns the two paths. Every ``plot_*`` script
    but ``plot_jigsaw`` saves this way."""
    import matplotlib.pyplot as plt

    out_prefix = Path(out_prefix)
    if out_prefix.suffix in (".pdf", ".png"):
        out_prefix = out_prefix.with_suffix("")
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    # appended, not with_suffix: a prefix such as "rate_1.5x" must not become "rate_1.pdf"
    paths = [Path(f"{out_prefix}.pdf"), Path(f"{out_prefix}.png")]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=130)
    plt.close(fig)
    return paths


def plot_main(experiment: str, title: str, argv: list[str] | None = None) -> int:
    """The command line of a ``plot_{experiment}`` script drawn by ``plot_results``."""
    return plot_command(experiment, lambda tsv, prefix: plot_results(tsv, prefix, title), argv)


def plot_command(experiment: str, plot: Callable[[str, str], list[Path]], argv: list[str] | None = None) -> int:
    """``python -m ...plot_{experiment} TSV [--out PREFIX]``: ``plot(tsv, prefix)`` (PREFIX defaults to
    the TSV's path without its suffix); a bad or missing TSV is one line on stderr and exit status 2."""
    p = argparse.ArgumentParser(prog=f"python -m alpa_serve_like.osdi_artifact.plot_{experiment}",
                                description=f"plot a gen_data_{experiment} TSV as PDF and PNG")
    p.add_argument("tsv", help=f"results from gen_data_{experiment}")
    p.add_argument("--out", default=None, help="output path without extension (default: the TSV's path)")
    args = p.parse_args(argv)
    prefix = args.out or str(Path(args.tsv).with_suffix(""))
    if not Path(args.tsv).is_file():  # read_rows takes a missing file as empty ("no rows"): say what it is
        state = "is a directory" if Path(args.tsv).is_dir() else "does not exist"
        print(f"plot_{experiment}: {args.tsv} {state}; write it with python -m "
              f"alpa_serve_like.osdi_artifact.gen_data_{experiment} --out {args.tsv}", file=sys.stderr)
        return 2
    try:
        paths = plot(args.tsv, prefix)
    except (ValueError, OSError) as exc:
        print(f"plot_{experiment}: {exc}", file=sys.stderr)
        return 2
    print("wrote " + ", ".join(map(str, paths)))
    return 0
