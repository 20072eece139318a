"""Queue disciplines on AlpaServe placements: SLO attainment of SR and the search's placements of S3
under fcfs, srpt and edf at stage granularity; sweeps of rate, CV and SLO scale.

Writes one TSV row per (case, policy, discipline); see suites.disciplines_suite for the points and README.md for
run times. Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_disciplines [--quick] [--out X.tsv] [--jobs N]``
"""
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import gen_data_main


def main(argv=None) -> int:
    return gen_data_main("disciplines", argv)


if __name__ == "__main__":
    sys.exit(main())
