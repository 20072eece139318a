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


def test_gpus_below_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        gen_data_jigsaw.main(["--quick", "--out", "j.tsv", "--gpus", "0"])
    assert exc.value.code == 2 and ">= 1" in capsys.readouterr().err
