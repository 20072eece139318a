"""Plot a gen_data_large TSV: Large models: 4 x BERT-103.5B on 64 devices, fixed groupings vs search (AlpaServe 6.3).

Usage: ``python -m alpa_serve_like.osdi_artifact.plot_large X.tsv [--out PREFIX]`` writes PREFIX.pdf and PREFIX.png.
"""
import sys

from alpa_serve_like.osdi_artifact.plot_common import plot_main

TITLE = "Large models: 4 x BERT-103.5B on 64 devices, fixed groupings vs search (AlpaServe 6.3)"


def main(argv=None) -> int:
    return plot_main("large", TITLE, argv)


if __name__ == "__main__":
    sys.exit(main())
