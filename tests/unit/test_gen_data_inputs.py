"""The suite scripts' inputs (``gen_data_cli``, ``runner``): a trace path or --out folder that does
not exist is refused before any row; rows whose inputs failed are no results, so a rerun computes
them again; a run whose every row failed exits non-zero."""
import pytest

from alpa_serve_like.osdi_artifact import gen_data_e2e, results, runner, suites
from alpa_serve_like.osdi_artifact.workloads import TraceSources

QUICK_S3_MAF1 = ["--quick", "--model-sets", "S3", "--traces", "maf1", "--jobs", "1", "--no-progress"]


@pytest.mark.parametrize("flag, trace", [("--maf1-dir", "maf1"), ("--maf2-file", "maf2"), ("--llm-dir", "llm")])
def test_a_missing_trace_path_is_refused_before_any_row(flag, trace, tmp_path, capsys):
    out = tmp_path / "x.tsv"
    argv = ["--traces", trace, flag, str(tmp_path / "nope"), "--out", str(out), "--no-progress"]
    assert gen_data_e2e.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"gen_data_e2e: {flag} {tmp_path / 'nope'}:") and "does not" in err
    assert not out.exists()


def test_a_missing_out_folder_is_refused_not_made(tmp_path, capsys):
    out = tmp_path / "no_such_folder" / "x.tsv"
    assert gen_data_e2e.main(QUICK_S3_MAF1 + ["--out", str(out)]) == 2
    assert "folder" in capsys.readouterr().err and not out.parent.exists()


def test_rows_whose_inputs_failed_are_computed_again_not_resumed(tmp_path):
    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    (pt,) = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    missing = TraceSources(maf1=str(tmp_path / "nope"))
    out = tmp_path / "r.tsv"
    for _ in range(2):  # the second run retries the failed row and keeps one row for the point
        stats = runner.run_points([pt], str(out), jobs=1, sources=missing, progress=False)
        assert (stats["done_before"], stats["ran"], stats["failures"]) == (0, 1, 1)
        (row,) = results.read_rows(out)
        assert row["error"].startswith("inputs:") and "does not exist" in row["error"]


def test_a_run_whose_every_row_failed_exits_non_zero(tmp_path, monkeypatch, capsys):
    def cannot_place(point, sources, in_sample, rules):  # a policy error: a result, not a failure
        row = runner._row_head(point, sources, in_sample, rules)
        return {**row, "attainment": "nan", "error": f"{point.policy.name}: cannot place"}

    monkeypatch.setattr(runner, "run_point", cannot_place)
    out = tmp_path / "x.tsv"
    for _ in range(2):  # computed, then all "already there": both say so and exit 1
        assert gen_data_e2e.main(QUICK_S3_MAF1 + ["--out", str(out)]) == 1
        assert "every point failed" in capsys.readouterr().err


def test_a_filter_matching_no_point_names_what_the_suite_holds(capsys):
    assert gen_data_e2e.main(["--quick", "--traces", "maf2"]) == 2
    err = capsys.readouterr().err
    assert "no points match --traces maf2" in err and "S3 on maf1" in err and "None" not in err


def test_a_row_cut_short_by_a_kill_is_computed_again(tmp_path, monkeypatch):
    def placed(point, sources, in_sample, rules):
        return {**runner._row_head(point, sources, in_sample, rules), "attainment": "0.9", "error": ""}

    monkeypatch.setattr(runner, "run_point", placed)
    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    (pt,) = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    out = tmp_path / "r.tsv"
    out.write_text("\t".join(results.COLUMNS) + "\n" + "test\tS1\tmaf1\t8")  # killed while writing the row
    stats = runner.run_points([pt], str(out), jobs=1, progress=False)
    assert (stats["done_before"], stats["ran"], stats["scored"]) == (0, 1, 1)
    (row,) = results.read_rows(out)
    assert row["attainment"] == "0.9"


@pytest.mark.parametrize("argv, said", [
    (["--quick", "--model-sets", "S1,S3"], "no points match --model-sets S1"),
    (["--quick", "--traces", "maf1,maf2"], "no points match --traces maf2"),
])
def test_a_name_that_selects_no_point_is_refused(argv, said, capsys):
    # --quick --model-sets S1,S3 ran S3 alone without a word
    assert gen_data_e2e.main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert said in err and "this suite with --quick holds S3 on maf1" in err and "\n" not in err.strip()


def test_a_trace_file_no_point_reads_is_noted(tmp_path, capsys):
    out = tmp_path / "no_such_folder" / "x.tsv"  # stops right after the note
    assert gen_data_e2e.main(["--quick", "--maf2-file", "x.txt", "--out", str(out)]) == 2
    assert "note: --maf2-file is not read: this run has no maf2 case" in capsys.readouterr().err


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_jobs_below_one_is_refused(jobs, capsys):
    # --jobs 0 ran on every core and --jobs -3 on one, silently
    with pytest.raises(SystemExit) as exc:
        gen_data_e2e.main(["--quick", "--jobs", jobs])
    assert exc.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["gen_data_paris", "gen_data_joint", "gen_data_mig_geometry"])
def test_the_other_scripts_refuse_a_missing_out_folder_rather_than_make_it(script, tmp_path, capsys):
    import importlib

    out = tmp_path / "nope" / "x.tsv"
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(f"alpa_serve_like.osdi_artifact.{script}").main(["--quick", "--out", str(out)])
    assert exc.value.code == 2 and "does not exist" in capsys.readouterr().err and not out.parent.exists()


def test_in_sample_robustness_is_refused(capsys):
    # every point was scored on its training traffic, so the window/rate/CV shifts drew flat lines
    from alpa_serve_like.osdi_artifact import gen_data_robustness

    assert gen_data_robustness.main(["--quick", "--in-sample"]) == 2
    assert "test_offset" in capsys.readouterr().err
