"""Plot a gen_data_disciplines TSV: SLO attainment under queue disciplines (fcfs, srpt, edf).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_disciplines X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
import sys

from alpa_serve_like.osdi_artifact.plot_common import plot_main

TITLE = "SLO attainment under queue disciplines (fcfs, srpt, edf)"


def main(argv=None) -> int:
    return plot_main("disciplines", TITLE, argv)


if __name__ == "__main__":
    sys.exit(main())
