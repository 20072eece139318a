"""How the command line reports bad input: one message on stderr, exit status 2, no traceback.

A bad input file is the user's to fix, so the message names the file and what was expected, and
a traceback would only hide it. The loaders raise these typed errors (each a ``ValueError``
naming the file); ``main`` catches them around every subcommand. Anything else is a bug in this
package and keeps its traceback.
"""
from __future__ import annotations

import re
import sys

BAD_INPUT_EXIT = 2
"""Exit status of a command refused for its input (argparse uses 2 for bad options too)."""

# CSI sequences (colours, cursor moves): Ray and other libraries colour their messages for a
# terminal, and the codes would land as garbage in a log file or a test's captured stderr.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "an input is wrong" (imported on use: they live in the
    layers, and importing them all up front would slow ``--help``)."""
    from alpa_serve_like.core.model_profile import ProfileError
    from alpa_serve_like.core.plan import PlacementError
    from alpa_serve_like.core.workload import WorkloadError
    from alpa_serve_like.profiling.database import DatabaseError
    from alpa_serve_like.trace.csv_reader import TraceFormatError

    return (PlacementError, WorkloadError, DatabaseError, ProfileError, TraceFormatError, OSError)


def message_of(exc: BaseException) -> str:
    """The text of ``exc`` without colour codes; an OS error as ``PATH: reason``."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror.lower()}"
    else:
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return _ANSI_ESCAPE.sub("", text)


def report(prog: str, exc: BaseException) -> int:
    """Print ``prog: message`` to stderr; returns the exit status of a refused input.

    A ``BrokenPipeError`` (an ``OSError``, so caught with the bad files) is no input's fault: the
    reader of our output went away (``... | head``); it is raised on for ``main`` to end quietly."""
    if isinstance(exc, BrokenPipeError):
        raise exc
    print(f"{prog}: {message_of(exc)}", file=sys.stderr)
    return BAD_INPUT_EXIT
