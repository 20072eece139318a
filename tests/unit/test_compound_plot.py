"""plot_jigsaw turns an ablation TSV into a PDF and a PNG, and refuses a TSV without its columns."""
from __future__ import annotations

from alpa_serve_like.compound.report import COLUMNS
from alpa_serve_like.osdi_artifact import plot_jigsaw


def test_plot_writes_both_files_and_rejects_other_tsvs(tmp_path, capsys):
    rows = [["a", "jigsaw", "4", "10.0", "true", "0", "5.0", "0.5", "0.1", "0.8", "1.0"],
            ["a", "no-variants", "4", "5.0", "true", "0", "5.0", "1.0", "0.2", "0.9", "1.0"],
            ["a", "even-budget", "4", "0.000", "nan", "nan", "nan", "nan", "nan", "nan", "nan"]]
    tsv = tmp_path / "x.tsv"
    tsv.write_text("\t".join(COLUMNS) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    assert plot_jigsaw.main([str(tsv)]) == 0
    assert (tmp_path / "x.pdf").stat().st_size > 0 and (tmp_path / "x.png").stat().st_size > 0
    assert plot_jigsaw.main([str(tsv), "--out", str(tmp_path / "figs" / "x")]) == 0  # was a traceback
    assert (tmp_path / "figs" / "x.png").exists()
    other = tmp_path / "other.tsv"
    other.write_text("policy\tattainment\nmp-search\t0.9\n")
    assert plot_jigsaw.main([str(other)]) == 2  # bad input: status 2, as the other plot scripts
    assert "lacks columns" in capsys.readouterr().err
    assert plot_jigsaw.main([str(tmp_path / "none.tsv")]) == 2  # was a FileNotFoundError traceback
    err = capsys.readouterr().err
    assert err.startswith(f"plot_jigsaw: {tmp_path / 'none.tsv'}: no such file") and err.count("\n") == 1


def test_help_names_the_module_to_run(capsys):
    # it said "usage: plot_jigsaw.py", a file name the installed package cannot run as such
    import pytest

    from alpa_serve_like.osdi_artifact import gen_data_jigsaw

    for module in (plot_jigsaw, gen_data_jigsaw):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert capsys.readouterr().out.startswith(f"usage: python -m {module.__name__}")
