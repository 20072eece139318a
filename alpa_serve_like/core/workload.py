"""Workload: a request stream as arrays (arrival, model id, SLO), the input of simulator and replay.

One array per field keeps the simulator's hot path free of Python objects. ``model_names[i]`` is
the name of model id ``i``. Every request carries its own SLO (seconds from arrival to finish);
the absolute deadline is ``arrival_s + slo_s``.

Besides the value itself this module holds the operations that make new workloads from old ones:
``merge_workloads``, ``slice_time``, ``split_train_test`` and ``with_slo``. They never mutate their
input and record what they did in ``meta``.

``meta["span_s"]``, when present, is the length of the time interval the workload covers, starting
at 0 (a synthetic workload of 600 s has span 600 even if its last request came at 599.2 s). Rates
are computed over the span, and ``split_train_test`` cuts it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np


class WorkloadError(ValueError):
    """A workload's arrays are inconsistent, or an operation on it is impossible."""


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests sorted by arrival time.

    ``size`` is an optional per-request batch/token size (e.g. tokens of an LLM request); 1 when
    unknown. ``output_size`` is an optional second per-request size (e.g. generated tokens of an
    LLM request). ``meta`` records how the workload was made (generator, seed, trace file, window);
    it must stay JSON-serialisable so ``workload_io`` can save it.
    """

    arrival_s: np.ndarray  # float64, sorted ascending
    model_id: np.ndarray  # int32, index into model_names
    slo_s: np.ndarray  # float64, per-request SLO (deadline - arrival)
    model_names: tuple[str, ...]
    size: np.ndarray | None = None  # int32, optional
    meta: dict = field(default_factory=dict)
    output_size: np.ndarray | None = None  # int32, optional (e.g. generated tokens)

    def __post_init__(self):
        n = len(self.arrival_s)
        object.__setattr__(self, "arrival_s", np.ascontiguousarray(self.arrival_s, dtype=np.float64))
        object.__setattr__(self, "model_id", np.ascontiguousarray(self.model_id, dtype=np.int32))
        object.__setattr__(self, "slo_s", np.ascontiguousarray(self.slo_s, dtype=np.float64))
        object.__setattr__(self, "model_names", tuple(self.model_names))
        optional = tuple(name for name in ("size", "output_size") if getattr(self, name) is not None)
        for name in optional:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int32))
        for name in ("model_id", "slo_s") + optional:
            if len(getattr(self, name)) != n:
                raise WorkloadError(f"workload: {name} has {len(getattr(self, name))} entries, arrival_s has {n}")
        if len(set(self.model_names)) != len(self.model_names):
            raise WorkloadError(f"workload: model names must be unique, got {list(self.model_names)}")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise WorkloadError("workload: arrival_s must be sorted ascending")
        if n and (self.model_id.min() < 0 or self.model_id.max() >= len(self.model_names)):
            raise WorkloadError(
                f"workload: model ids must be in [0, {len(self.model_names)}), "
                f"got [{self.model_id.min()}, {self.model_id.max()}]"
            )
        if n and not np.all(np.isfinite(self.arrival_s)):
            raise WorkloadError("workload: arrival_s has NaN or infinite values")
        if n and np.any(~(self.slo_s > 0)):
            raise WorkloadError("workload: every slo_s must be > 0")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def deadline_s(self) -> np.ndarray:
        return self.arrival_s + self.slo_s

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    @property
    def span_s(self) -> float:
        """Length of the covered interval: ``meta["span_s"]`` if recorded, else up to the last arrival."""
        last = float(self.arrival_s[-1]) if len(self) else 0.0
        return max(float(self.meta.get("span_s", 0.0)), last)

    def sizes(self) -> np.ndarray:
        """Per-request sizes, ones when the workload has none."""
        return self.size if self.size is not None else np.ones(len(self), dtype=np.int32)

    def select(self, mask_or_index: np.ndarray, meta: dict | None = None, shift_s: float = 0.0) -> "Workload":
        """The requests picked by a boolean mask or sorted index array, arrivals minus ``shift_s``."""
        pick = lambda a: None if a is None else a[mask_or_index]
        return Workload(self.arrival_s[mask_or_index] - shift_s, self.model_id[mask_or_index],
                        self.slo_s[mask_or_index], self.model_names, pick(self.size),
                        dict(self.meta) if meta is None else meta, pick(self.output_size))

    def slice_time(self, start_s: float, end_s: float, rebase: bool = True) -> "Workload":
        return slice_time(self, start_s, end_s, rebase)

    def split_train_test(self, train_fraction: float = 0.5) -> tuple["Workload", "Workload"]:
        return split_train_test(self, train_fraction)

    def with_slo(self, slo_s) -> "Workload":
        return with_slo(self, slo_s)


def merge_workloads(*workloads: Workload) -> Workload:
    """One workload holding every request of ``workloads``.

    Model names are the union in order of first appearance; a name shared by two inputs is the same
    model. Requests are ordered by arrival with a stable sort, so ties keep the input order.
    ``size``/``output_size`` are kept when any input has them (ones for inputs without).
    """
    if not workloads:
        raise WorkloadError("merge_workloads: give at least one workload")
    names: dict[str, int] = {}
    for w in workloads:
        for name in w.model_names:
            names.setdefault(name, len(names))
    ids = [np.asarray([names[n] for n in w.model_names], dtype=np.int32)[w.model_id] for w in workloads]
    arrival = np.concatenate([w.arrival_s for w in workloads])
    order = np.argsort(arrival, kind="stable")

    def joined(attr):
        if all(getattr(w, attr) is None for w in workloads):
            return None
        parts = [np.ones(len(w), np.int32) if getattr(w, attr) is None else getattr(w, attr) for w in workloads]
        return np.concatenate(parts)[order]

    meta = {"name": "merged", "span_s": max(w.span_s for w in workloads), "parts": [dict(w.meta) for w in workloads]}
    return Workload(arrival[order], np.concatenate(ids)[order],
                    np.concatenate([w.slo_s for w in workloads])[order], tuple(names),
                    joined("size"), meta, joined("output_size"))


def slice_time(w: Workload, start_s: float, end_s: float, rebase: bool = True) -> Workload:
    """Requests arriving in ``[start_s, end_s)``; with ``rebase`` their times start at 0 (minus start_s)."""
    if not end_s > start_s:
        raise WorkloadError(f"slice_time: end_s ({end_s}) must be > start_s ({start_s})")
    lo, hi = np.searchsorted(w.arrival_s, [start_s, end_s], side="left")
    meta = dict(w.meta)
    meta["window_s"] = [float(start_s), float(end_s)]
    if rebase and np.isfinite(start_s) and np.isfinite(end_s):
        meta["span_s"] = float(end_s - start_s)
    elif rebase:
        meta.pop("span_s", None)
    shift = float(start_s) if rebase and np.isfinite(start_s) else 0.0
    return w.select(slice(lo, hi), meta, shift)


def split_train_test(w: Workload, train_fraction: float = 0.5, rebase: bool = True) -> tuple[Workload, Workload]:
    """Split by time: the first ``train_fraction`` of the span trains, the rest tests.

    The span is ``[0, w.span_s]`` when arrivals are non-negative, else first to last arrival. The
    test part is rebased to start at 0 (unless ``rebase=False``) so both halves look like fresh traffic.
    """
    if not 0.0 < train_fraction < 1.0:
        raise WorkloadError(f"split_train_test: train_fraction must be in (0, 1), got {train_fraction}")
    if len(w) == 0:
        raise WorkloadError("split_train_test: the workload has no requests")
    start = 0.0 if w.arrival_s[0] >= 0 else float(w.arrival_s[0])
    end = w.span_s if start == 0.0 else float(w.arrival_s[-1])
    if end <= start:
        end = start + 1e-9
    cut = start + train_fraction * (end - start)
    end_open = np.nextafter(end, np.inf)  # include the last arrival in the test part
    train = slice_time(w, start, cut, rebase=False)
    train.meta["span_s"] = float(cut) if start == 0.0 else float(cut - start)
    train.meta["train_test"] = f"train first {train_fraction:g}"
    test = slice_time(w, cut, end_open, rebase=rebase)
    test.meta["span_s"] = float(end - cut)
    test.meta["train_test"] = f"test last {1 - train_fraction:g}"
    return train, test


def with_slo(w: Workload, slo_s: float | Mapping[str, float] | Sequence[float]) -> Workload:
    """The same requests with new SLOs.

    ``slo_s`` is one float for all models, a dict ``model name -> seconds`` (models not named keep
    their SLO), or a sequence with one entry per model in ``model_names`` order.
    """
    per_model = slo_per_model_array(w.model_names, slo_s, allow_partial=True)
    new = per_model[w.model_id]
    keep = np.isnan(new)
    new[keep] = w.slo_s[keep]
    return Workload(w.arrival_s, w.model_id, new, w.model_names, w.size, dict(w.meta), w.output_size)


def slo_per_model_array(model_names: Sequence[str], slo_s, allow_partial: bool = False) -> np.ndarray:
    """float64 array of one SLO per model from a float, dict or sequence; NaN where a dict is silent
    (only with ``allow_partial``)."""
    names = list(model_names)
    if isinstance(slo_s, Mapping):
        unknown = sorted(set(slo_s) - set(names))
        if unknown:
            raise WorkloadError(f"SLO given for unknown models {unknown} (known: {names})")
        missing = [n for n in names if n not in slo_s]
        if missing and not allow_partial:
            raise WorkloadError(f"no SLO given for models {missing}; give every model one, or one float for all")
        out = np.array([float(slo_s.get(n, np.nan)) for n in names], dtype=np.float64)
    elif np.ndim(slo_s) == 0:
        out = np.full(len(names), float(slo_s), dtype=np.float64)
    else:
        out = np.asarray(slo_s, dtype=np.float64).ravel()
        if len(out) != len(names):
            raise WorkloadError(f"{len(out)} SLOs given for {len(names)} models; give one per model")
    given = out[~np.isnan(out)]
    if np.any(~(given > 0)) or np.any(~np.isfinite(given)):
        raise WorkloadError(f"every SLO must be a positive number of seconds, got {out.tolist()}")
    return out
