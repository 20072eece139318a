"""Large models (AlpaServe section 6.3): 4 x BERT-103.5B on 64 devices, fixed (pp, op) groupings against the search.

Writes one TSV row per (case, policy); see suites.large_suite for the points and README.md for
run times. Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_large [--quick] [--out X.tsv] [--jobs N]``
"""
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import gen_data_main


def main(argv=None) -> int:
    return gen_data_main("large", argv)


if __name__ == "__main__":
    sys.exit(main())
