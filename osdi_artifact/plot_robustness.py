"""Plot a gen_data_robustness TSV: Robustness: placed on one traffic window, evaluated on another (AlpaServe 6.4).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_robustness X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
import sys

from alpa_serve_like.osdi_artifact.plot_common import plot_main

TITLE = "Robustness: placed on one traffic window, evaluated on another (AlpaServe 6.4)"


def main(argv=None) -> int:
    return plot_main("robustness", TITLE, argv)


if __name__ == "__main__":
    sys.exit(main())
