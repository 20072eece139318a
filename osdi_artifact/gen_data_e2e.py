"""End-to-end SLO attainment (AlpaServe section 6.2): S1, S2, S3 on MAF1/MAF2; sweeps of devices, rate, CV and SLO scale.

Writes one TSV row per (case, policy); see suites.e2e_suite for the points and README.md for
run times. Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_e2e [--quick] [--out X.tsv] [--jobs N]``
"""
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import gen_data_main


def main(argv=None) -> int:
    return gen_data_main("e2e", argv)


if __name__ == "__main__":
    sys.exit(main())
