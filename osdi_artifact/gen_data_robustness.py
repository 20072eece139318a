"""Robustness (AlpaServe section 6.4): place on one traffic window, evaluate on a later or rescaled one.

Writes one TSV row per (case, policy); see suites.robustness_suite for the points and README.md for
run times. Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_robustness [--quick] [--out X.tsv] [--jobs N]``
"""
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import gen_data_main


def main(argv=None) -> int:
    return gen_data_main("robustness", argv)


if __name__ == "__main__":
    sys.exit(main())
