"""Plot a gen_data_jigsaw TSV: per application, maximum serviceable demand and GPU slices used at
the reference demand, one bar per system (full optimizer and ablations).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_jigsaw X.tsv [--out PREFIX]`` writes
PREFIX.pdf and PREFIX.png (PREFIX defaults to the TSV path without its suffix).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name if __spec__ else __name__}",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("tsv")
    parser.add_argument("--out", default=None, metavar="PREFIX")
    args = parser.parse_args(argv)
    try:
        with open(args.tsv, encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as exc:  # a missing or unreadable file is the user's to fix
        reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"plot_jigsaw: {args.tsv}: {reason}; write it with python -m "
              f"alpa_serve_like.osdi_artifact.gen_data_jigsaw --out {args.tsv}", file=sys.stderr)
        return 2
    missing = {"app", "system", "max_demand_rps", "gpu_fraction_used"} - set(rows[0] if rows else {})
    if not rows or missing:
        print(f"plot_jigsaw: {args.tsv} has no rows or lacks columns {sorted(missing)}; "
              f"write it with gen_data_jigsaw", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    apps = list(dict.fromkeys(r["app"] for r in rows))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.8 / len(systems)
    for ax, column, label in ((axes[0], "max_demand_rps", "max serviceable demand (req/s)"),
                              (axes[1], "gpu_fraction_used", "compute slices used at reference demand")):
        for si, system in enumerate(systems):
            values = []
            for app in apps:
                match = [r for r in rows if r["app"] == app and r["system"] == system]
                value = float(match[0][column]) if match and match[0][column] != "nan" else math.nan
                values.append(0.0 if math.isnan(value) else value)
            ax.bar([i + si * width for i in range(len(apps))], values, width, label=system)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(apps))], apps)
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    gpus = rows[0].get("gpus", "?")
    fig.suptitle(f"Compound applications on {gpus} GPUs: optimizer vs ablations (our setup)")
    fig.tight_layout()
    from alpa_serve_like.osdi_artifact.plot_common import save_figure

    # save_figure makes a missing --out folder (savefig raised a traceback there), as every plot does
    pdf, png = save_figure(fig, Path(args.out) if args.out else Path(args.tsv).with_suffix(""))
    print(f"wrote {pdf} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
