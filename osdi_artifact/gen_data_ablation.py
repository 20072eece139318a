"""Ablation (AlpaServe section 6.5): round robin vs greedy vs group-partition search vs ours on S3.

Writes one TSV row per (case, policy); see suites.ablation_suite for the points and README.md for
run times. Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_ablation [--quick] [--out X.tsv] [--jobs N]``
"""
import sys

from alpa_serve_like.osdi_artifact.gen_data_cli import gen_data_main


def main(argv=None) -> int:
    return gen_data_main("ablation", argv)


if __name__ == "__main__":
    sys.exit(main())
