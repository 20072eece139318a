"""Reader of the Azure Functions 2019 trace ("MAF1", Shahrad et al., ATC 2020).

Fourteen files ``invocations_per_function_md.anon.dNN.csv`` (NN = 01..14), one per day, each with
columns ``HashOwner, HashApp, HashFunction, Trigger, 1, ..., 1440``: invocation counts per minute.
Files are streamed block by block (``csv_reader``); only non-zero counts are kept, as a
``FunctionTrace``. A function is identified by all four key columns; if the same key appears twice
in one day the two rows' counts are added and the number of such rows is reported in ``meta``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from alpa_serve_like.trace.csv_reader import BadRows, read_blocks
from alpa_serve_like.trace.function_trace import MINUTES_PER_DAY, FunctionTrace

KEY_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
MINUTE_COLUMNS = tuple(str(i) for i in range(1, MINUTES_PER_DAY + 1))
COLUMNS = KEY_COLUMNS + MINUTE_COLUMNS
FILE_PATTERN = "invocations_per_function_md.anon.d{day:02d}.csv"
_FILE_RE = re.compile(r"invocations_per_function_md\.anon\.d(\d{2})\.csv$")


def find_day_files(directory: str | os.PathLike, days: Iterable[int] | None = None) -> dict[int, Path]:
    """Day number -> file of the MAF1 files in ``directory`` (all found, or exactly ``days``)."""
    directory = Path(directory)
    if not directory.is_dir():
        state = "is a file" if directory.exists() else "does not exist"
        raise FileNotFoundError(f"MAF1 directory {directory} {state}; expected the folder of "
                                f"{FILE_PATTERN.format(day=1)}, ... files")
    found = {int(m.group(1)): p for p in directory.iterdir() if (m := _FILE_RE.search(p.name))}
    if days is None:
        if not found:
            raise FileNotFoundError(f"no MAF1 files named like {FILE_PATTERN.format(day=1)} in {directory}")
        return dict(sorted(found.items()))
    missing = [FILE_PATTERN.format(day=d) for d in days if d not in found]
    if missing:
        raise FileNotFoundError(f"MAF1 files missing in {directory}: {', '.join(missing)}")
    return {d: found[d] for d in sorted(set(days))}


def _nonneg_counts(df):
    return df[list(MINUTE_COLUMNS)].to_numpy().min(axis=1) >= 0


def _first_negative(df, i):
    row = df[list(MINUTE_COLUMNS)].iloc[i].to_numpy()
    j = int(np.argmax(row < 0))
    return f"{row[j]} in column {MINUTE_COLUMNS[j]!r}"


def _nonempty_keys(df):
    return np.all([df[c].str.len().to_numpy() > 0 for c in KEY_COLUMNS], axis=0)


CHECKS = (
    ("non-negative invocation counts", _nonneg_counts, _first_negative),
    ("non-empty HashOwner, HashApp, HashFunction and Trigger",
     _nonempty_keys, lambda df, i: ",".join(str(df[c].iloc[i]) for c in KEY_COLUMNS)),
)


def read_maf1(directory: str | os.PathLike, days: Iterable[int] | None = None, *, skip_bad_rows: bool = False,
              block_bytes: int = 1 << 25) -> FunctionTrace:
    """Parse the MAF1 day files in ``directory`` (all of them, or ``days``) into a FunctionTrace.

    ``meta["bad_rows"]`` counts rows dropped with ``skip_bad_rows=True`` (otherwise a bad row raises
    ``TraceFormatError`` naming file and line).
    """
    files = find_day_files(directory, days)
    bad = BadRows()
    index: dict[str, int] = {}
    parts_f, parts_m, parts_c = [], [], []
    for day, path in files.items():
        for df, _lines in read_blocks(path, COLUMNS, {c: np.int32 for c in MINUTE_COLUMNS},
                                      skip_bad_rows=skip_bad_rows, bad=bad, checks=CHECKS, block_bytes=block_bytes):
            keys = (df["HashOwner"] + "/" + df["HashApp"] + "/" + df["HashFunction"] + "/" + df["Trigger"]).tolist()
            ids = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int32, count=len(keys))
            counts = df[list(MINUTE_COLUMNS)].to_numpy(dtype=np.int32)
            rows, cols = np.nonzero(counts)
            parts_f.append(ids[rows])
            parts_m.append((cols + (day - 1) * MINUTES_PER_DAY).astype(np.int32))
            parts_c.append(counts[rows, cols])
    function = np.concatenate(parts_f) if parts_f else np.empty(0, np.int32)
    minute = np.concatenate(parts_m) if parts_m else np.empty(0, np.int32)
    count = np.concatenate(parts_c) if parts_c else np.empty(0, np.int32)
    order = np.lexsort((function, minute))
    function, minute, count = function[order], minute[order], count[order]
    # the same function twice in one minute means a duplicated key row: add the counts
    dup = np.flatnonzero((np.diff(minute) == 0) & (np.diff(function) == 0)) + 1
    merged = 0
    if len(dup):
        starts = np.flatnonzero(np.concatenate([[True], ~((np.diff(minute) == 0) & (np.diff(function) == 0))]))
        count = np.add.reduceat(count.astype(np.int64), starts).astype(np.int32)
        function, minute, merged = function[starts], minute[starts], len(dup)
    meta = {"source": "maf1", "directory": str(directory), "days": sorted(files),
            "files": [p.name for p in files.values()], "span_s": float(max(files) * 86400),
            "bad_rows": bad.count, "bad_row_examples": bad.examples, "duplicate_entries_summed": merged}
    keys = np.array(list(index), dtype=str) if index else np.empty(0, dtype=str)
    return FunctionTrace("maf1", keys, function, minute=minute, count=count, meta=meta)
