"""Plot a gen_data_e2e TSV: End-to-end SLO attainment (AlpaServe 6.2).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_e2e X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
import sys

from alpa_serve_like.osdi_artifact.plot_common import plot_main

TITLE = "End-to-end SLO attainment (AlpaServe 6.2)"


def main(argv=None) -> int:
    return plot_main("e2e", TITLE, argv)


if __name__ == "__main__":
    sys.exit(main())
