"""Reader of the Azure Functions 2021 trace ("MAF2", Zhang et al., SOSP 2021).

One CSV-formatted file (``AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt``) with columns
``app, func, end_timestamp, duration``: seconds since the start of the trace. The request's arrival
is ``end_timestamp - duration``. ``func`` is unique only within its ``app``, so a function is the
pair "app/func". The file (~2M rows) is streamed in blocks; the result is a ``FunctionTrace``
sorted by arrival.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from alpa_serve_like.trace.csv_reader import BadRows, read_blocks
from alpa_serve_like.trace.function_trace import FunctionTrace

COLUMNS = ("app", "func", "end_timestamp", "duration")

CHECKS = (
    ("a duration >= 0 s", lambda df: df["duration"].to_numpy() >= 0, lambda df, i: str(df["duration"].iloc[i])),
    ("non-empty app and func", lambda df: (df["app"].str.len().to_numpy() > 0) & (df["func"].str.len().to_numpy() > 0),
     lambda df, i: f"app={df['app'].iloc[i]!r} func={df['func'].iloc[i]!r}"),
)


def read_maf2(path: str | os.PathLike, *, skip_bad_rows: bool = False, block_bytes: int = 1 << 25) -> FunctionTrace:
    """Parse a MAF2 invocation file into a FunctionTrace (``meta["bad_rows"]`` counts skipped rows)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MAF2 file {path} does not exist")
    bad = BadRows()
    index: dict[str, int] = {}
    parts_f, parts_a, parts_d = [], [], []
    for df, _lines in read_blocks(path, COLUMNS, {"end_timestamp": np.float64, "duration": np.float64},
                                  skip_bad_rows=skip_bad_rows, bad=bad, checks=CHECKS, block_bytes=block_bytes):
        codes, uniques = pd.factorize(df["app"] + "/" + df["func"])
        ids = np.array([index.setdefault(k, len(index)) for k in uniques], dtype=np.int32)
        parts_f.append(ids[codes])
        end, dur = df["end_timestamp"].to_numpy(), df["duration"].to_numpy()
        parts_a.append(end - dur)
        parts_d.append(dur)
    cat = lambda parts, dt: np.concatenate(parts) if parts else np.empty(0, dt)
    function, arrival, duration = cat(parts_f, np.int32), cat(parts_a, np.float64), cat(parts_d, np.float64)
    order = np.argsort(arrival, kind="stable")
    # kept (they are real requests that began before the trace's clock started), but reported
    before_start = int(np.count_nonzero(arrival < 0))
    meta = {"source": "maf2", "file": path.name, "bad_rows": bad.count, "bad_row_examples": bad.examples,
            "arrivals_before_start": before_start,
            "span_s": float(np.ceil(arrival.max() / 86400.0) * 86400.0) if len(arrival) else 0.0}
    keys = np.array(list(index), dtype=str) if index else np.empty(0, dtype=str)
    return FunctionTrace("maf2", keys, function[order], arrival_s=arrival[order], duration_s=duration[order], meta=meta)
