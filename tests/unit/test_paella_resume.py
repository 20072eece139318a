"""gen_data_paella's TSV: a file of another device, sigma or job count is refused rather than mixed
(the plot drew both in one line under the first row's device); crashed rows are computed again."""
import pytest

from alpa_serve_like.osdi_artifact import gen_data_paella, paella_runner
from alpa_serve_like.osdi_artifact.paella_suite import PaellaPoint
from alpa_serve_like.osdi_artifact.results import ResultsFileError, RowWriter, read_rows

PT = PaellaPoint("extreme2", "cuda-ss", 1.0, float("inf"), num_jobs=40)


def _fake_rows(point):
    return [{"figure": point.figure, "system": point.system, "model": "all", "device": point.device,
             "num_jobs": point.num_jobs, "sigma": paella_runner._fmt(point.sigma), "seed": point.seed,
             "mean_ms": "1", "p99_ms": "2", "error": "", "point": point.key, "key": f"{point.key}|all"}]


def test_a_file_of_another_device_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(paella_runner, "point_rows", _fake_rows)
    out = tmp_path / "p.tsv"
    paella_runner.run_paella_points([PT], str(out), jobs=1, progress=False)
    other = PaellaPoint("extreme2", "cuda-ss", 1.0, float("inf"), num_jobs=40, device="a100")
    with pytest.raises(ResultsFileError, match="1 row of device t4, 40 jobs a point, sigma 1.5, seed 0; "
                                               "this run is device a100"):
        paella_runner.run_paella_points([other], str(out), jobs=1, progress=False)


def test_crashed_rows_are_computed_again(tmp_path, monkeypatch):
    monkeypatch.setattr(paella_runner, "point_rows", _fake_rows)
    out = tmp_path / "p.tsv"
    with RowWriter(out, paella_runner.PAELLA_COLUMNS) as w:
        w.write({"figure": PT.figure, "system": PT.system, "model": "all", "point": PT.key, "key": f"{PT.key}|all",
                 "error": "crash: boom"})
    stats = paella_runner.run_paella_points([PT], str(out), jobs=1, progress=False)
    assert (stats["done_before"], stats["ran"], stats["failures"]) == (0, 1, 0)
    (row,) = read_rows(out, paella_runner.PAELLA_COLUMNS)
    assert row["error"] == ""


def test_default_file_names_the_device_and_sigma(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paella_runner, "point_rows", _fake_rows)
    assert gen_data_paella.main(["--quick", "--device", "a100", "--sigma", "2", "--jobs", "1", "--no-progress"]) == 0
    assert (tmp_path / "paella_quick_a100_sigma2.tsv").exists()
    assert gen_data_paella.main(["--quick", "--jobs", "1", "--no-progress"]) == 0
    assert (tmp_path / "paella_quick.tsv").exists()


def test_bad_sigma_or_missing_out_folder_is_refused_up_front(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        gen_data_paella.main(["--quick", "--sigma", "-1"])
    assert exc.value.code == 2 and "--sigma must be >= 0" in capsys.readouterr().err
    out = tmp_path / "nope" / "p.tsv"
    assert gen_data_paella.main(["--quick", "--out", str(out)]) == 2
    assert "folder" in capsys.readouterr().err and not out.parent.exists()
