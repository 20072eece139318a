"""Streaming, validating reader of the plain CSV files that real traces come in.

The traces have no quoted fields, so a row's column count is its comma count plus one; counting
commas over a whole block with numpy checks every row without a Python loop. Numbers are then
parsed by pandas' C parser with fixed dtypes. Any problem raises ``TraceFormatError`` naming the
file, the 1-based line and what was expected, unless the caller passed ``skip_bad_rows=True``:
then the row is dropped and counted in ``BadRows``. Blank lines carry no data and are ignored.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd


class TraceFormatError(ValueError):
    """A trace file does not have the expected format."""


@dataclass
class BadRows:
    """Rows dropped because ``skip_bad_rows`` was set: how many, and the first few reasons."""

    count: int = 0
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, messages: Sequence[str], count: int | None = None) -> None:
        self.count += len(messages) if count is None else count
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.examples.extend(messages[:room])

    def summary(self) -> str:
        if not self.count:
            return "no bad rows"
        return f"skipped {self.count} bad rows, e.g. " + "; ".join(self.examples)


# (what is expected, df -> boolean mask of good rows, (df, row) -> the offending value as text)
RowCheck = tuple[str, Callable[[pd.DataFrame], np.ndarray], Callable[[pd.DataFrame, int], str]]


def _preview(values: Sequence[str], limit: int = 6) -> str:
    shown = ",".join(values[:limit])
    return shown + (f",... ({len(values)} columns)" if len(values) > limit else "")


def _check_header(path: Path, first: bytes, expected: Sequence[str]) -> None:
    if not first.strip():
        raise TraceFormatError(f"{path.name} line 1: file is empty; expected a header {_preview(list(expected))}")
    found = first.decode("utf-8", errors="replace").strip().split(",")
    found = [c.strip().strip('"') for c in found]
    if len(found) != len(expected):
        raise TraceFormatError(f"{path.name} line 1: expected a header of {len(expected)} columns "
                               f"({_preview(list(expected))}), found {len(found)} ({_preview(found)})")
    for i, (want, got) in enumerate(zip(expected, found)):
        if want != got:
            raise TraceFormatError(f"{path.name} line 1: header column {i + 1} should be {want!r}, found {got!r}")


def _line_bounds(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.flatnonzero(a == 10)
    if len(a) and a[-1] != 10:
        ends = np.append(ends, len(a))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    return starts, ends


def read_blocks(
    path: str | os.PathLike,
    columns: Sequence[str],
    dtypes: dict[str, object],
    *,
    skip_bad_rows: bool = False,
    bad: BadRows | None = None,
    checks: Sequence[RowCheck] = (),
    block_bytes: int = 1 << 25,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``(frame, line_numbers)`` blocks of the data rows of a CSV file with a header.

    ``dtypes`` maps numeric columns to numpy dtypes; other columns are kept as Python strings.
    ``checks`` are extra row rules (e.g. "a count >= 0"). ``line_numbers`` are 1-based file lines.
    """
    path = Path(path)
    bad = bad if bad is not None else BadRows()
    ncols = len(columns)
    with open(path, "rb") as f:
        # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name
        _check_header(path, f.readline().removeprefix(b"\xef\xbb\xbf"), columns)
        line0, rest = 2, b""
        while True:
            chunk = f.read(block_bytes)
            if chunk:
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one line longer than a block: keep reading
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            else:
                data, rest = rest, b""
            if data:
                n_lines, block = _parse_block(path, data, line0, columns, ncols, dtypes, skip_bad_rows, bad, checks)
                line0 += n_lines
                if block is not None:
                    yield block
            if not chunk:
                return


def _parse_block(path, data, line0, columns, ncols, dtypes, skip_bad_rows, bad, checks):
    a = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _line_bounds(a)
    commas = np.flatnonzero(a == 44)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    length = ends - starts - (a[np.maximum(ends - 1, 0)] == 13)
    blank = length <= 0
    good = (fields == ncols) & ~blank
    wrong = ~good & ~blank
    lines = line0 + np.arange(len(starts))
    if wrong.any():
        msgs = [f"{path.name} line {lines[i]}: expected {ncols} columns, found {fields[i]}" for i in np.flatnonzero(wrong)]
        if not skip_bad_rows:
            raise TraceFormatError(msgs[0])
        bad.add(msgs)
    if not good.any():
        return len(starts), None
    if good.all():
        text = data
    else:
        text = b"\n".join(data[s:e] for s, e in zip(starts[good], ends[good]))
    lines = lines[good]
    try:
        df = _read(text, columns, dtypes, strict=True)
        ok = np.ones(len(df), dtype=bool)
        for col, dt in dtypes.items():
            if np.issubdtype(np.dtype(dt), np.floating):
                ok &= np.isfinite(df[col].to_numpy())
        if not ok.all():
            raise ValueError("non-finite numbers")
    except ValueError:
        df, ok, why = _locate_bad_values(path, text, columns, dtypes, lines)
        if not ok.all():
            if not skip_bad_rows:
                raise TraceFormatError(why[0]) from None
            bad.add(why)
            df, lines = df[ok].reset_index(drop=True), lines[ok]
    for what, rule, found in checks:
        ok = np.asarray(rule(df), dtype=bool)
        if not ok.all():
            idx = np.flatnonzero(~ok)
            msgs = [f"{path.name} line {lines[i]}: expected {what}, found {found(df, i)}" for i in idx[:10]]
            if not skip_bad_rows:
                raise TraceFormatError(msgs[0])
            bad.add(msgs, count=len(idx))
            df, lines = df[ok].reset_index(drop=True), lines[ok]
    return len(starts), ((df, lines) if len(df) else None)


def _read(text: bytes, columns, dtypes, strict: bool) -> pd.DataFrame:
    # na_filter off: an empty or "NA" field must be reported, never turned into a silent NaN
    types = {c: (dtypes[c] if strict and c in dtypes else object) for c in columns}
    return pd.read_csv(io.BytesIO(text), header=None, names=list(columns), dtype=types, engine="c",
                       na_filter=False)


def _locate_bad_values(path, text, columns, dtypes, lines):
    """Slow path, only for blocks that failed to parse: find each row's first bad value.

    All numeric columns of one dtype are converted in one vectorised call (MAF1 has 1440)."""
    raw = _read(text, columns, dtypes, strict=False)
    n = len(raw)
    valid = {}
    out = {c: raw[c] for c in columns if c not in dtypes}
    by_dtype: dict[np.dtype, list[str]] = {}
    for col in columns:
        if col in dtypes:
            by_dtype.setdefault(np.dtype(dtypes[col]), []).append(col)
    for dt, cols in by_dtype.items():
        flat = pd.Series(raw[cols].to_numpy(dtype=object).ravel()).astype(str).str.strip()
        num = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64).reshape(n, len(cols))
        ok = np.isfinite(num)
        if np.issubdtype(dt, np.integer):
            ok &= (num == np.floor(num)) & (num >= np.iinfo(dt).min) & (num <= np.iinfo(dt).max)
        for j, col in enumerate(cols):
            valid[col] = ok[:, j]
            out[col] = np.where(ok[:, j], num[:, j], 0).astype(dt)
    numeric = [c for c in columns if c in dtypes]
    ok_matrix = np.column_stack([valid[c] for c in numeric]) if numeric else np.ones((n, 1), bool)
    row_ok = ok_matrix.all(axis=1)
    why = []
    for i in np.flatnonzero(~row_ok):
        col = numeric[int(np.argmin(ok_matrix[i]))]
        want = "an integer" if np.issubdtype(np.dtype(dtypes[col]), np.integer) else "a number"
        why.append(f"{path.name} line {lines[i]}: column {col!r} expected {want}, found {str(raw[col].iloc[i]).strip()!r}")
    return pd.DataFrame(out, columns=list(columns)), row_ok, why
