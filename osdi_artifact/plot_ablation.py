"""Plot a gen_data_ablation TSV: Ablation on S3: round robin vs greedy vs group-partition search vs ours (AlpaServe 6.5).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_ablation X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
import sys

from alpa_serve_like.osdi_artifact.plot_common import plot_main

TITLE = "Ablation on S3: round robin vs greedy vs group-partition search vs ours (AlpaServe 6.5)"


def main(argv=None) -> int:
    return plot_main("ablation", TITLE, argv)


if __name__ == "__main__":
    sys.exit(main())
