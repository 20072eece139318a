"""The joint-search experiment's quick run end to end: its TSV, and the trend the README reports
(partitions win for the small networks under load, meshes for the bursty large models)."""
import csv

import pytest

pytestmark = pytest.mark.slow


def test_quick_joint_experiment_shows_each_side_winning(tmp_path):
    from alpa_serve_like.osdi_artifact.gen_data_joint import COLUMNS, main

    out = tmp_path / "joint.tsv"
    assert main(["--quick", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert rows and list(rows[0]) == list(COLUMNS)
    att = {(r["scenario"], float(r["load_rps"]), r["kind"]): float(r["slo_attainment"]) for r in rows}
    assert all(0.0 <= a <= 1.0 for a in att.values())
    assert att[("small-nets", 1600.0, "partitions")] > att[("small-nets", 1600.0, "meshes")] + 0.1
    for load in (2.0, 8.0):
        assert att[("large-models", load, "meshes")] > att[("large-models", load, "partitions")]
    assert all(r["layout"].startswith("meshes[") for r in rows if r["kind"] == "meshes")
