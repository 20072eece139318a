"""gen_data_jigsaw checks every input before its first search: a missing --out folder cost the
whole run (a traceback after it), a bad app file or device a traceback, --gpus 0 ran on 4 GPUs."""
import pytest

from alpa_serve_like.osdi_artifact import gen_data_jigsaw


@pytest.mark.parametrize("extra, said", [
    (["--out", "{tmp}/nope/j.tsv"], "folder"),
    (["--apps", "{tmp}/none.json"], "does not exist"),
    (["--device", "foo"], "unknown device 'foo'"),
])
def test_a_bad_input_is_one_line_and_status_2(extra, said, tmp_path, capsys):
    argv = ["--quick", "--out", str(tmp_path / "j.tsv")] + [a.format(tmp=tmp_path) for a in extra]
    assert gen_data_jigsaw.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gen_data_jigsaw: ") and said in err and "\n" not in err
    assert not (tmp_path / "j.tsv").exists()


@pytest.mark.parametrize("argv, said", [(["--gpus", "0"], ">= 1"), (["--sim-duration-s", "-1"], "must be > 0")])
def test_gpus_or_duration_out_of_range_is_refused(argv, said, capsys):
    # --gpus 0 ran on 4 GPUs; --sim-duration-s -1 wrote nan violation rates with status 0
    with pytest.raises(SystemExit) as exc:
        gen_data_jigsaw.main(["--quick", "--out", "j.tsv"] + argv)
    assert exc.value.code == 2 and said in capsys.readouterr().err
