"""SLO attainment over a sliding time window (pure), for the ``slo_attainment`` gauge.

A gauge of attainment since start moves less with every request and hides a bad minute after an
hour of good ones; this one counts only the requests answered in the last ``window_s`` seconds.
"""
from __future__ import annotations

import math
from collections import deque


class WindowedAttainment:
    """Met / all over the answers of the last ``window_s`` seconds (times from the caller's clock)."""

    def __init__(self, window_s: float):
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = float(window_s)
        self._events: deque[tuple[float, bool]] = deque()
        self._met = 0

    def add(self, now_s: float, met: bool) -> float:
        """Record one answer at ``now_s``; returns the attainment over the window ending now."""
        self._events.append((now_s, bool(met)))
        self._met += bool(met)
        return self.value(now_s)

    def value(self, now_s: float) -> float:
        """Attainment over ``(now_s - window_s, now_s]``; NaN when no answer falls in it."""
        horizon = now_s - self.window_s
        while self._events and self._events[0][0] <= horizon:
            self._met -= self._events.popleft()[1]
        return self._met / len(self._events) if self._events else math.nan
