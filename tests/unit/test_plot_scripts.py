"""The plot scripts share one command line and one way of saving (``plot_common``): PREFIX.pdf and
PREFIX.png next to the TSV by default; a bad TSV is one line on stderr and exit status 2."""
from alpa_serve_like.osdi_artifact import plot_paris

HEADER = "config\tdispatch\tload_rps\tslo_scale\tslo_attainment\tslo_ms\tgpus\tnetwork\n"


def test_plot_paris_writes_pdf_and_png_beside_the_tsv(tmp_path, capsys):
    tsv = tmp_path / "sub" / "paris.tsv"
    tsv.parent.mkdir()
    tsv.write_text(HEADER + "".join(f"paris\telsa\t{load}\t3\t{att}\t12.5\t1\tresnet50\n"
                                    for load, att in ((100, 1.0), (200, 0.9))))
    assert plot_paris.main([str(tsv)]) == 0
    assert (tmp_path / "sub" / "paris.pdf").stat().st_size > 0 and (tmp_path / "sub" / "paris.png").stat().st_size > 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'sub' / 'paris.pdf'}, {tmp_path / 'sub' / 'paris.png'}"
    assert plot_paris.main([str(tsv), "--out", str(tmp_path / "figs" / "p")]) == 0  # the folder is made
    assert (tmp_path / "figs" / "p.png").exists()


def test_a_tsv_of_another_experiment_is_refused_in_one_line(tmp_path, capsys):
    tsv = tmp_path / "other.tsv"
    tsv.write_text("policy\tattainment\nmp-search\t0.9\n")
    assert plot_paris.main([str(tsv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"plot_paris: {tsv} is not a gen_data_paris TSV") and "\n" not in err
    assert plot_paris.main([str(tmp_path / "none.tsv")]) == 2
    assert "plot_paris:" in capsys.readouterr().err


def test_a_missing_tsv_is_named_as_missing_not_as_empty(tmp_path, capsys):
    from alpa_serve_like.osdi_artifact import plot_e2e

    assert plot_e2e.main([str(tmp_path / "none.tsv")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'none.tsv'} does not exist" in err and "gen_data_e2e" in err and "no rows" not in err



def test_a_tsv_whose_every_row_failed_is_refused(tmp_path, capsys):
    # it drew empty panels (a missing --maf1-dir makes every row "inputs: ... does not exist")
    from alpa_serve_like.osdi_artifact import plot_e2e
    from alpa_serve_like.osdi_artifact.results import COLUMNS

    row = {c: "" for c in COLUMNS}
    row.update(key="k", policy="sr-greedy", attainment="nan", figure="e2e", model_set="S3", trace="maf1",
               sweep="num_devices", label="SR", error="inputs: MAF1 directory /x does not exist")
    tsv = tmp_path / "e2e.tsv"
    tsv.write_text("\t".join(COLUMNS) + "\n" + "\t".join(row[c] for c in COLUMNS) + "\n")
    assert plot_e2e.main([str(tsv)]) == 2
    err = capsys.readouterr().err
    assert "every row of" in err and "MAF1 directory /x does not exist" in err
    assert not (tmp_path / "e2e.png").exists()


def test_the_footnote_says_in_sample_when_the_rows_are():
    # it said "evaluation traffic drawn separately" under every --in-sample figure too
    from alpa_serve_like.osdi_artifact.plot_common import footnote

    assert footnote([{"in_sample": "1"}], []).startswith("Attainment on the training traffic itself (in-sample")
    assert "drawn separately" in footnote([{"in_sample": "0"}], ["SR at x=1"])
    assert footnote([{"in_sample": "0"}], ["SR at x=1"]).endswith("Failed (not plotted): SR at x=1.")


def test_a_prefix_with_a_dot_keeps_its_name(tmp_path):
    # "rate_1.5x" was cut to "rate_1.pdf" / "rate_1.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alpa_serve_like.osdi_artifact.plot_common import save_figure

    paths = save_figure(plt.figure(), tmp_path / "rate_1.5x")
    assert [p.name for p in paths] == ["rate_1.5x.pdf", "rate_1.5x.png"] and all(p.exists() for p in paths)
    assert [p.name for p in save_figure(plt.figure(), tmp_path / "fig.png")] == ["fig.pdf", "fig.png"]


def test_a_tsv_holding_two_runs_of_one_point_is_refused(tmp_path, capsys):
    # a full and a --quick run appended to one --out: each panel zigzagged between the two
    from alpa_serve_like.osdi_artifact import plot_e2e
    from alpa_serve_like.osdi_artifact.results import COLUMNS

    def row(duration_s):
        r = {c: "" for c in COLUMNS}
        r.update(key=f"k{duration_s}", policy="sr-greedy", attainment="0.9", model_set="S3", trace="maf1",
                 sweep="rate_scale", x="0.5", label="SR", duration_s=duration_s, in_sample="0")
        return "\t".join(r[c] for c in COLUMNS)

    tsv = tmp_path / "e2e.tsv"
    tsv.write_text("\t".join(COLUMNS) + "\n" + row("1200.0") + "\n" + row("120.0") + "\n")
    assert plot_e2e.main([str(tsv)]) == 2
    err = capsys.readouterr().err
    assert "two rows for SR at rate_scale=0.5" in err and "duration_s (1200.0 vs 120.0)" in err
