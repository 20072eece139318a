"""``replay``'s own options, refused before any request is sent, in one line with status 2: a
negative --rate (was an ArrivalError traceback), a --url that is not http(s) (was urllib's
"unknown url type" traceback), and neither --workload nor --models (was status 1, unprefixed)."""
from __future__ import annotations

import pytest

from alpa_serve_like.cli.main import main


@pytest.mark.parametrize("argv, expected", [
    (["--url", "http://127.0.0.1:9", "--models", "bert-tiny-0", "--rate", "-1"], "total_rate must be"),
    (["--url", "http://127.0.0.1:9", "--models", "bert-tiny-0", "--duration", "-3"], "--duration"),
    (["--url", "notaurl", "--models", "bert-tiny-0"], "--url 'notaurl': expected http://HOST:PORT"),
    (["--url", "http://127.0.0.1:9"], "give --workload FILE or --models NAME,..."),
])
def test_bad_replay_options_are_one_line(tmp_path, capsys, argv, expected):
    assert main(["replay", *argv, "--ready-timeout", "0", "--out", str(tmp_path / "r.tsv")]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("alpa-serve-like replay: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "r.tsv").exists()
