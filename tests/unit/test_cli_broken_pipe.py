"""``alpa-serve-like ... | head``: when the reader goes away the command ends quietly with status 0,
as ``main`` promises, even in a command that reports OSError as bad input (a BrokenPipeError is an
OSError, and ``db list | head -3`` used to print "error: [Errno 32] Broken pipe" with status 2)."""
from __future__ import annotations

import io
import os
import sys

import numpy as np

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.trace.workload_io import save_workload


class _ClosedPipe(io.TextIOBase):
    """stdout whose reader has gone: every write fails as a closed pipe does."""

    def __init__(self, fd: int):
        self._fd = fd

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        return self._fd  # main points it at /dev/null so the exit flush stays quiet


def _run_into_closed_pipe(monkeypatch, argv) -> tuple[int, str]:
    """(exit status, stderr) of ``main(argv)`` writing to a closed pipe (patched in the test body:
    pytest re-installs its own capture between a fixture's set-up and the test)."""
    fd = os.open(os.devnull, os.O_WRONLY)
    err = io.StringIO()
    try:
        with monkeypatch.context() as m:
            m.setattr(sys, "stdout", _ClosedPipe(fd))
            m.setattr(sys, "stderr", err)
            status = main(argv)
    finally:
        os.close(fd)
    return status, err.getvalue()


def test_db_list_into_a_closed_pipe_is_quiet(monkeypatch):
    assert _run_into_closed_pipe(monkeypatch, ["db", "list"]) == (0, "")


def test_trace_info_into_a_closed_pipe_is_quiet(monkeypatch, tmp_path):
    path = tmp_path / "w.npz"
    save_workload(Workload(np.array([0.0, 1.0]), np.array([0, 0]), np.ones(2), ("a",)), path)
    assert _run_into_closed_pipe(monkeypatch, ["trace", "info", str(path)]) == (0, "")


def test_a_real_bad_file_still_reports(monkeypatch, tmp_path):
    status, err = _run_into_closed_pipe(monkeypatch, ["trace", "info", str(tmp_path / "none.npz")])
    assert status == 2 and "none.npz does not exist" in err
