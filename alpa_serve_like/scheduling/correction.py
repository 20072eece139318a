"""Online correction of predicted stage latencies from measured ones (used by the runtime).

Each (replica, stage) has a scale factor, an exponentially weighted moving average of
measured / predicted latency; predictions are ``profiled latency * scale``. A measurement counts at
most ``outlier_factor`` times the current prediction: a stage that a stall of the machine held for
10x its time must not raise every later prediction past the SLO, which would reject every request,
so that no measurement would ever bring the scale back (seen on a fake clock:
``tests/unit/test_admission_margin.py``); a lasting change still moves the scale by up to that
factor's share every measurement.

That cap bounds one stall, not a slow spell: a stage that runs 20x its profile for 2 s (a noisy
neighbour, a machine under contention) reports ten slow batches, each raising the scale by its 2x
share, until every prediction misses the SLO; admission then rejects every request, nothing runs,
nothing is measured, and the group stayed locked out for good (fake clock: 0.1-5.5% admitted). So
the scale fades back toward 1.0 (the profile) while its (replica, stage) reports nothing: the
excess over 1.0 halves every ``half_life_s`` since its last measurement, the way the runtime's
learned overheads fade (``runtime/overheads.py``). A group locked out by a spell admits again once
the faded prediction fits the SLO, and the first batch back measures what the stage takes now. A
measurement folds into the faded value (the scale as it stands when it is taken). Under steady
traffic measurements are milliseconds apart and the fade is negligible; a scale no measurement has
set (one set by hand) does not fade.

The scheduler tells the correction what time it predicts for (``set_now``); nothing here reads a
clock. In the simulator no correction is attached (a scale of exactly 1.0 would multiply exactly
anyway), so simulator and kernel still agree.
"""
from __future__ import annotations

import math

import numpy as np


class LatencyCorrection:
    """Per-(replica, stage) EWMA scale factors over the profiled latencies, fading to 1.0 while idle."""

    def __init__(self, num_replicas: int, max_stages: int, alpha: float = 0.2,
                 min_scale: float = 0.1, max_scale: float = 10.0, outlier_factor: float = 2.0,
                 half_life_s: float = 2.0):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"EWMA alpha must be in (0, 1], got {alpha!r}")
        if not outlier_factor >= 1.0:
            raise ValueError(f"outlier_factor must be >= 1 (a measurement may count up to that many times "
                             f"the current prediction), got {outlier_factor!r}")
        if not half_life_s > 0.0:
            raise ValueError(f"latency correction half_life_s must be > 0 seconds (math.inf: never fade), "
                             f"got {half_life_s!r}")
        self.outlier_factor = outlier_factor
        self.alpha = alpha
        self.min_scale, self.max_scale = min_scale, max_scale
        self.half_life_s = half_life_s
        self._log_keep_per_s = -math.log(2.0) / half_life_s
        """ln of the share of the excess kept per second idle (-0.0 when it never fades)."""
        # Python lists, not arrays: ``scaled`` reads every stage of every candidate of every
        # decision, and a list's scalar reads cost a fraction of an array's.
        self._scale = [[1.0] * max_stages for _ in range(num_replicas)]
        """Each scale as of its last measurement (``factor`` fades it to now)."""
        self._measured_s = [[math.nan] * max_stages for _ in range(num_replicas)]
        """When each scale was last measured; NaN: never (the scale does not fade)."""
        self.now_s = -math.inf
        """The time predictions are for (``set_now``)."""

    @property
    def scale(self) -> np.ndarray:
        """A copy of every scale as of its last measurement, ``[replica, stage]``."""
        return np.array(self._scale)

    def set_scale(self, replica: int, stage: int, scale: float) -> None:
        """Set a scale by hand (known, not learned): it holds until a measurement comes."""
        if not scale > 0.0:
            raise ValueError(f"latency scale must be > 0, got {scale!r}")
        self._scale[replica][stage] = float(scale)
        self._measured_s[replica][stage] = math.nan

    def set_now(self, now_s: float) -> None:
        """Predictions from now on are for ``now_s`` (the scheduler's "now")."""
        self.now_s = now_s

    def factor(self, replica: int, stage: int) -> float:
        """The scale at ``now_s``: its excess over 1.0 halved per ``half_life_s`` since it was measured."""
        return self._faded(self._scale[replica][stage], self.now_s - self._measured_s[replica][stage])

    def scaled(self, replica: int, latencies_s: list[float]) -> list[float]:
        """``latencies_s`` (stage 0, 1, ... of ``replica``) times their factors at ``now_s``: what
        ``factor`` gives, in one call per row (the scheduler's hot path)."""
        scales, measured_s, now_s = self._scale[replica], self._measured_s[replica], self.now_s
        return [lat_s if scales[stage] == 1.0 else lat_s * self._faded(scales[stage], now_s - measured_s[stage])
                for stage, lat_s in enumerate(latencies_s)]

    def _faded(self, scale: float, idle_s: float) -> float:
        if not idle_s > 0.0:  # NaN (never measured) or a measurement not older than now
            return scale
        return 1.0 + (scale - 1.0) * math.exp(self._log_keep_per_s * idle_s)

    def update(self, replica: int, stage: int, measured_s: float, profiled_s: float,
               at_s: float = math.nan) -> float:
        """Fold one measurement taken at ``at_s`` in (into the scale faded to ``at_s``; NaN: the
        unfaded scale, and it does not restart the fade); returns the new scale. Non-positive
        values are ignored."""
        if profiled_s > 0.0 and measured_s > 0.0:
            scale = self._faded(self._scale[replica][stage], at_s - self._measured_s[replica][stage])
            ratio = min(max(measured_s / profiled_s, self.min_scale), self.max_scale, self.outlier_factor * scale)
            self._scale[replica][stage] = (1.0 - self.alpha) * scale + self.alpha * ratio
            if not math.isnan(at_s):
                self._measured_s[replica][stage] = at_s
        return self._scale[replica][stage]
