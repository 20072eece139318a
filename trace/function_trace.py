"""FunctionTrace: a converted Azure Functions trace (MAF1 counts or MAF2 timestamps) and its cache file.

Raw traces are parsed once (``maf1.convert_maf1`` / ``maf2.convert_maf2``) into this compact value
and saved as a compressed ``.npz`` cache that loads in seconds. Times are seconds since the start of
the trace (day 1, 00:00); a ``TraceWindow`` selects a part of it.

- MAF1 (counts): non-zero per-minute counts as three parallel arrays sorted by (minute, function):
  ``minute`` (global minute, ``(day - 1) * 1440 + m``), ``function`` and ``count``. Sorting by minute
  makes a window two binary searches, however many functions the trace holds.
- MAF2 (timestamps): ``arrival_s`` (end_timestamp - duration, sorted), ``function``, ``duration_s``.

``function_keys[i]`` names function ``i`` ("owner/app/function/trigger" for MAF1, "app/func" for MAF2).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from alpa_serve_like.trace.csv_reader import TraceFormatError
from alpa_serve_like.trace.npz_file import header, meta_of, peek_kind, read_npz, vector, write_npz

CACHE_KIND = {"maf1": "alpa_serve_like.maf1_cache", "maf2": "alpa_serve_like.maf2_cache"}
CACHE_VERSION = 1
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class TraceWindow:
    """The part ``[start_s, end_s)`` of a trace, in seconds since day 1 00:00."""

    start_s: float
    end_s: float

    def __post_init__(self):
        if not (np.isfinite(self.start_s) and np.isfinite(self.end_s)) or not self.end_s > self.start_s:
            raise ValueError(f"trace window [{self.start_s}, {self.end_s}) must be finite with end > start")

    @classmethod
    def of(cls, day: int = 1, hour: float = 0, minute: float = 0, *, days: float = 0, hours: float = 0,
           minutes: float = 0) -> "TraceWindow":
        """The window starting on ``day`` (1-based) at ``hour:minute`` lasting days + hours + minutes
        (a whole day when no length is given)."""
        if day < 1:
            raise ValueError(f"trace days are numbered from 1, got day {day}")
        start = (day - 1) * 86400.0 + hour * 3600.0 + minute * 60.0
        length = days * 86400.0 + hours * 3600.0 + minutes * 60.0
        if length < 0:  # 0 means "a whole day"; a negative one is a typo, not a day
            raise ValueError(f"trace window length must be >= 0 (days {days:g}, hours {hours:g}, minutes "
                             f"{minutes:g} give {length:g} s); 0 or none means a whole day")
        return cls(start, start + (length if length > 0 else 86400.0))

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s

    def minutes(self) -> tuple[int, int]:
        """Global minute range ``[m0, m1)``; the window must lie on minute boundaries."""
        m0, m1 = self.start_s / 60.0, self.end_s / 60.0
        if m0 != int(m0) or m1 != int(m1):
            raise ValueError(f"window [{self.start_s}, {self.end_s}) s must start and end on whole minutes "
                             "for a per-minute (MAF1) trace")
        return int(m0), int(m1)


@dataclass(frozen=True, eq=False)
class FunctionTrace:
    """A converted MAF1 or MAF2 trace (see module docstring)."""

    kind: Literal["maf1", "maf2"]
    function_keys: np.ndarray  # str, one per function
    function: np.ndarray  # int32, per entry
    minute: np.ndarray | None = None  # int32, MAF1
    count: np.ndarray | None = None  # int32, MAF1
    arrival_s: np.ndarray | None = None  # float64, MAF2
    duration_s: np.ndarray | None = None  # float64, MAF2
    meta: dict = field(default_factory=dict)

    @property
    def num_functions(self) -> int:
        return len(self.function_keys)

    @property
    def span_s(self) -> float:
        """End of the covered time (seconds since day 1 00:00)."""
        if "span_s" in self.meta:
            return float(self.meta["span_s"])
        if self.kind == "maf1":
            return float((self.minute.max() + 1) * 60) if len(self.minute) else 0.0
        return float(self.arrival_s[-1]) if len(self.arrival_s) else 0.0

    def total_requests(self) -> int:
        return int(self.count.sum(dtype=np.int64)) if self.kind == "maf1" else len(self.arrival_s)

    def _range(self, window: TraceWindow) -> slice:
        if self.kind == "maf1":
            m0, m1 = window.minutes()
            lo, hi = np.searchsorted(self.minute, [m0, m1], side="left")
        else:
            lo, hi = np.searchsorted(self.arrival_s, [window.start_s, window.end_s], side="left")
        return slice(int(lo), int(hi))

    def function_totals(self, window: TraceWindow) -> np.ndarray:
        """Requests of every function inside ``window`` (float64, one per function)."""
        r = self._range(window)
        weights = self.count[r] if self.kind == "maf1" else None
        return np.bincount(self.function[r], weights=weights, minlength=self.num_functions).astype(np.float64)

    def model_minute_counts(self, window: TraceWindow, function_model: np.ndarray, num_models: int) -> np.ndarray:
        """Per-minute request counts of each model, ``(num_models, minutes)``; functions mapped to -1 are left out."""
        m0, m1 = window.minutes()
        r = self._range(window)
        if self.kind == "maf1":
            minute, weights = self.minute[r] - m0, self.count[r]
        else:
            minute = ((self.arrival_s[r] - m0 * 60.0) // 60.0).astype(np.int64)
            weights = None
        model = function_model[self.function[r]]
        keep = model >= 0
        flat = model[keep].astype(np.int64) * (m1 - m0) + minute[keep]
        w = None if weights is None else weights[keep]
        return np.bincount(flat, weights=w, minlength=num_models * (m1 - m0)).reshape(num_models, m1 - m0)

    def model_arrivals(self, window: TraceWindow, function_model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MAF2 only: (arrival_s, model) of the requests in ``window`` whose function maps to a model."""
        if self.kind != "maf2":
            raise ValueError("exact timestamps exist only in MAF2 traces; MAF1 has per-minute counts")
        r = self._range(window)
        model = function_model[self.function[r]]
        keep = model >= 0
        return self.arrival_s[r][keep], model[keep]


def save_function_trace(t: FunctionTrace, path: str | os.PathLike) -> Path:
    """Write ``t`` as a compressed cache ``.npz``."""
    arrays = {"function_keys": np.asarray(t.function_keys, dtype=np.bytes_), "function": t.function}
    names = ("minute", "count") if t.kind == "maf1" else ("arrival_s", "duration_s")
    arrays.update({n: getattr(t, n) for n in names})
    return write_npz(path, CACHE_KIND[t.kind], CACHE_VERSION, arrays, t.meta, compressed=True)


CACHE_WHAT = "a MAF1/MAF2 trace cache .npz (from 'alpa-serve-like trace convert')"


def cache_kind(path: str | os.PathLike) -> str:
    """The ``kind`` string stored in an ``.npz`` written by this package ("?" if none)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist")
    return peek_kind(path, "an .npz written by alpa_serve_like (a workload or a trace cache)", TraceFormatError)


def load_function_trace(path: str | os.PathLike) -> FunctionTrace:
    """Read a cache written by ``save_function_trace`` (``trace convert``); a bad file raises
    ``TraceFormatError`` naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"trace cache {path} does not exist (make it with 'alpa-serve-like trace convert')")
    arrays = read_npz(path, CACHE_WHAT, TraceFormatError)
    kind_str, version = header(arrays, path, CACHE_WHAT, TraceFormatError)
    kinds = {v: k for k, v in CACHE_KIND.items()}
    if kind_str not in kinds:
        hint = "; a workload is already what 'trace build' makes" if "workload" in kind_str else ""
        raise TraceFormatError(f"{path} is not a MAF1/MAF2 trace cache (kind {kind_str!r}){hint}")
    if version > CACHE_VERSION:
        raise TraceFormatError(f"{path}: cache format {version} is newer than this "
                               f"version reads ({CACHE_VERSION}); upgrade alpa_serve_like")
    kind = kinds[kind_str]
    names = (("minute", "iu"), ("count", "iu")) if kind == "maf1" else (("arrival_s", "iuf"), ("duration_s", "iuf"))
    fields = {n: vector(arrays, n, kinds_, path, TraceFormatError) for n, kinds_ in names}
    keys = vector(arrays, "function_keys", "SU", path, TraceFormatError).astype(str)
    function = vector(arrays, "function", "iu", path, TraceFormatError)
    _check_cache_arrays(path, kind, keys, function, fields)
    meta = meta_of(arrays, path, TraceFormatError)
    meta["cache_path"] = str(path)
    return FunctionTrace(kind, keys, function, meta=meta, **fields)


def _check_cache_arrays(path, kind: str, keys, function, fields) -> None:
    """The invariants the window searches and bincounts rely on, checked once at load."""
    for name, a in fields.items():
        if len(a) != len(function):
            raise TraceFormatError(f"{path}: array {name!r} has {len(a)} entries, 'function' has {len(function)}")
    if len(function) and (function.min() < 0 or function.max() >= len(keys)):
        raise TraceFormatError(f"{path}: function ids must be in [0, {len(keys)}) (one per function key), "
                               f"found [{function.min()}, {function.max()}]")
    order = fields["minute"] if kind == "maf1" else fields["arrival_s"]
    if kind == "maf2" and not np.all(np.isfinite(order)):
        raise TraceFormatError(f"{path}: 'arrival_s' has NaN or infinite values")
    if len(order) > 1 and np.any(np.diff(order) < 0):
        raise TraceFormatError(f"{path}: {'minute' if kind == 'maf1' else 'arrival_s'} must be sorted ascending")
    if kind == "maf1" and len(order) and (order.min() < 0 or fields["count"].min() < 0):
        raise TraceFormatError(f"{path}: minutes and counts must be >= 0")
