"""gen_data_paella / plot_paella: the TSV columns the issue names, resuming, and the plot."""
import csv
from dataclasses import replace

import pytest

from alpa_serve_like.osdi_artifact import gen_data_paella
from alpa_serve_like.osdi_artifact.paella_runner import PAELLA_COLUMNS, run_paella_points, serial_capacity_rps
from alpa_serve_like.osdi_artifact.paella_suite import EXTREME2, PaellaPoint, paella_points


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_quick_suite_covers_three_figures_and_six_systems():
    pts = paella_points(quick=True)
    assert {p.figure for p in pts} == {"mix8", "extreme2", "fairness"}
    assert {p.system for p in pts if p.figure == "mix8"} == {
        "cuda-ss", "cuda-ms", "paella-ss", "paella-ms-jbj", "paella-ms-kbk", "paella"}
    assert all(p.num_jobs == 200 for p in pts) and len({p.key for p in pts}) == len(pts)


def test_rows_columns_and_resume(tmp_path):
    out = tmp_path / "p.tsv"
    pts = [PaellaPoint("extreme2", "cuda-ss", 1.0, float("inf"), num_jobs=40),
           PaellaPoint("fairness", "paella", 3.0, 1.0, num_jobs=100)]
    stats = run_paella_points(pts, str(out), jobs=1, progress=False)
    assert stats["ran"] == 2 and stats["failures"] == 0
    rows = _rows(out)
    assert tuple(rows[0]) == PAELLA_COLUMNS
    assert PAELLA_COLUMNS[:8] == ("figure", "system", "model", "offered_rps", "throughput_rps", "mean_ms", "p99_ms",
                                  "fairness_threshold")
    assert [(r["figure"], r["model"]) for r in rows] == [
        ("extreme2", "all"), ("fairness", "all"), ("fairness", "resnet18"), ("fairness", "inception_v3")]
    assert float(rows[0]["offered_rps"]) == pytest.approx(serial_capacity_rps("t4", EXTREME2), rel=1e-5)
    assert float(rows[0]["mean_ms"]) > 0 and rows[0]["error"] == ""
    assert float(rows[3]["mean_ms"]) > float(rows[2]["mean_ms"]) > 0  # inception_v3 is the longer model
    # rerun with one more point: only the new one is computed, the file stays in suite order
    more = pts + [replace(pts[0], system="paella-ms-kbk")]
    stats = run_paella_points(more, str(out), jobs=1, progress=False)
    assert (stats["done_before"], stats["ran"]) == (2, 1)
    assert [r["system"] for r in _rows(out)] == ["cuda-ss", "paella", "paella", "paella", "paella-ms-kbk"]


def test_quick_cli_writes_a_tsv_and_plots(tmp_path):
    from alpa_serve_like.osdi_artifact import plot_paella

    out = tmp_path / "q.tsv"
    assert gen_data_paella.main(["--quick", "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    rows = _rows(out)
    assert len(rows) == 24 + 2 * 3
    assert plot_paella.main([str(out), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0
