"""The TSV every ``gen_data_*`` writes and every ``plot_*`` reads: one row per (case, policy).

Columns: the case fields (``suites.Case``), the policy and its label, the x value of the row's
panel, the placement summary, test attainment, latency percentiles of served requests, goodput,
solve time, the training attainment, what was trained and evaluated on, the simulator rule set and
whether the placement was scored in-sample (1) or on held-out traffic (0), and an error text (empty
when the point ran). ``key`` identifies a row (case, policy, rule set, scoring, trace source) so an
interrupted run resumes where it stopped.
Other experiments (``paella_results``) pass their own ``columns``; the file handling is shared.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable

from alpa_serve_like.osdi_artifact.suites import CASE_FIELDS

RESULT_FIELDS = (
    "policy", "label", "x", "placement", "num_groups", "num_replicas", "attainment", "p50_s", "p90_s", "p99_s",
    "goodput_rps", "test_requests", "solve_s", "train_attainment", "trace_source", "trained_on", "evaluated_on",
    "rules", "in_sample", "error",
)
COLUMNS = CASE_FIELDS + RESULT_FIELDS + ("key",)


class ResultsFileError(ValueError):
    """A results TSV that cannot be resumed or plotted."""


def read_rows(path: str | os.PathLike, columns: tuple[str, ...] = COLUMNS) -> list[dict]:
    """Rows of a results TSV as dicts of strings (an empty list if the file does not exist); a row
    with too few fields, cut short by a kill, is left out (a resumed run computes it again)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if reader.fieldnames is None:
            return []
        missing = [c for c in ("key", "policy", "attainment", "figure") if c in columns and c not in reader.fieldnames]
        if missing:
            raise ResultsFileError(f"{path} is not a results TSV (no column {missing[0]!r}); "
                                   f"choose another --out or delete it")
        if tuple(reader.fieldnames) != columns:
            raise ResultsFileError(f"{path} was written with other columns than this version writes; "
                                   f"delete it (or choose another --out) to start over")
        # a line cut short (a run killed while writing it) has too few fields: no result, so left out
        return [r for r in reader if None not in r.values() and None not in r]


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


class RowWriter:
    """Appends rows to a TSV (writing the header first if new), flushing each so a crash loses nothing;
    with ``overwrite`` it starts the file afresh (the experiments that do not resume). Keys of a row
    that are not columns are left out."""

    def __init__(self, path: str | os.PathLike, columns: tuple[str, ...] = COLUMNS, overwrite: bool = False):
        self.columns = columns
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = overwrite or not self.path.exists() or self.path.stat().st_size == 0
        cut = not new and _ends_mid_line(self.path)
        self._file = open(self.path, "w" if overwrite else "a", newline="")
        if cut:  # a line cut short by a kill: end it, so the next row is a line of its own
            self._file.write("\n")
        self._writer = csv.DictWriter(self._file, fieldnames=columns, delimiter="\t", lineterminator="\n",
                                      extrasaction="raise")
        if new:
            self._writer.writeheader()
            self._file.flush()

    def write(self, row: dict) -> None:
        self._writer.writerow({c: row.get(c, "") for c in self.columns})
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rewrite_in_order(path: str | os.PathLike, order: Iterable[str], columns: tuple[str, ...] = COLUMNS,
                     key_column: str = "key") -> None:
    """Rewrite ``path`` with rows sorted by the position of their ``key_column`` in ``order`` (unknown last)."""
    rows = read_rows(path, columns)
    rank = {k: i for i, k in enumerate(order)}
    rows.sort(key=lambda r: rank.get(r[key_column], len(rank)))
    write_rows(path, rows, columns)


def write_rows(path: str | os.PathLike, rows: Iterable[dict], columns: tuple[str, ...] = COLUMNS) -> None:
    """Replace ``path`` with ``rows`` at once (a crash leaves the old file whole)."""
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
