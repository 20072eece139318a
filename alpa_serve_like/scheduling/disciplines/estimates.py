"""Estimated work per (model, unit index), learned from observed durations as Paella does.

The first observation of a unit sets its estimate; each later one halves the distance:
``len <- (len + observed) / 2``. A unit never observed counts as 0, so a model's first jobs look
short (Paella's choice: optimistic for the unknown). ``remaining_s`` is a suffix sum, cached per
model and recomputed only after an estimate changed.
"""
from __future__ import annotations


class RemainingWork:
    """EWMA estimates of unit durations and the remaining work they imply."""

    def __init__(self):
        self._len_s: dict[str, list[float]] = {}
        self._suffix_s: dict[str, list[float]] = {}

    def estimate_s(self, model: str, unit: int) -> float:
        lens = self._len_s.get(model)
        return lens[unit] if lens is not None and unit < len(lens) and lens[unit] == lens[unit] else 0.0

    def observe(self, model: str, unit: int, observed_s: float) -> None:
        """Record that ``unit`` of ``model`` took ``observed_s``."""
        if observed_s < 0:
            raise ValueError(f"model {model!r} unit {unit}: observed duration {observed_s} s is negative")
        lens = self._len_s.setdefault(model, [])
        if unit >= len(lens):
            lens.extend([float("nan")] * (unit + 1 - len(lens)))  # nan = never observed
        old = lens[unit]
        new = observed_s if old != old else (old + observed_s) / 2.0
        if new != old:
            lens[unit] = new
            self._suffix_s.pop(model, None)

    def adopt(self, model: str, unit: int, estimate_s: float) -> None:
        """Take ``unit``'s estimate as made elsewhere (a stage actor learns the other stages' from
        the controller, which sees every stage's times); NaN (unknown there) changes nothing."""
        if estimate_s != estimate_s:
            return
        lens = self._len_s.setdefault(model, [])
        if unit >= len(lens):
            lens.extend([float("nan")] * (unit + 1 - len(lens)))
        if lens[unit] != estimate_s:
            lens[unit] = float(estimate_s)
            self._suffix_s.pop(model, None)

    def estimates_s(self, model: str, num_units: int) -> list[float]:
        """The estimate of each of ``num_units`` units (NaN where never observed)."""
        lens = self._len_s.get(model, [])
        return [lens[u] if u < len(lens) else float("nan") for u in range(num_units)]

    def remaining_s(self, model: str, next_unit: int) -> float:
        """Estimated work of units ``next_unit``, ``next_unit + 1``, ... of ``model`` (unknown = 0)."""
        suffix = self._suffix_s.get(model)
        if suffix is None:
            lens = self._len_s.get(model, [])
            suffix = [0.0] * (len(lens) + 1)
            for u in range(len(lens) - 1, -1, -1):
                suffix[u] = suffix[u + 1] + (lens[u] if lens[u] == lens[u] else 0.0)
            self._suffix_s[model] = suffix
        return suffix[next_unit] if next_unit < len(suffix) else 0.0
