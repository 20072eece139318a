"""Online correction of predicted stage latencies from measured ones (used by the runtime).

Each (replica, stage) has a scale factor, an exponentially weighted moving average of
measured / predicted latency; predictions are ``profiled latency * scale``. A measurement counts at
most ``outlier_factor`` times the current prediction: a stage that a stall of the machine held for
10x its time must not raise every later prediction past the SLO, which would reject every request,
so that no measurement would ever bring the scale back (seen on a fake clock:
``tests/unit/test_admission_margin.py``); a lasting change still moves the scale by up to that
factor's share every measurement. In the simulator every
scale stays exactly 1.0, and multiplying by 1.0 is exact, so simulator and kernel still agree.
"""
from __future__ import annotations

import numpy as np


class LatencyCorrection:
    """Per-(replica, stage) EWMA scale factors over the profiled latencies."""

    def __init__(self, num_replicas: int, max_stages: int, alpha: float = 0.2,
                 min_scale: float = 0.1, max_scale: float = 10.0, outlier_factor: float = 2.0):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"EWMA alpha must be in (0, 1], got {alpha!r}")
        if not outlier_factor >= 1.0:
            raise ValueError(f"outlier_factor must be >= 1 (a measurement may count up to that many times "
                             f"the current prediction), got {outlier_factor!r}")
        self.outlier_factor = outlier_factor
        self.alpha = alpha
        self.min_scale, self.max_scale = min_scale, max_scale
        self.scale = np.ones((num_replicas, max_stages))

    def factor(self, replica: int, stage: int) -> float:
        return float(self.scale[replica, stage])

    def update(self, replica: int, stage: int, measured_s: float, profiled_s: float) -> float:
        """Fold one measurement in; returns the new scale. Non-positive values are ignored."""
        if profiled_s > 0.0 and measured_s > 0.0:
            scale = self.scale[replica, stage]
            ratio = min(max(measured_s / profiled_s, self.min_scale), self.max_scale, self.outlier_factor * scale)
            self.scale[replica, stage] = (1.0 - self.alpha) * scale + self.alpha * ratio
        return float(self.scale[replica, stage])
