"""The ``slo_attainment`` gauge's sliding window, on hand-picked times."""
import math

import pytest

from alpa_serve_like.runtime.windowed_attainment import WindowedAttainment


def test_attainment_counts_only_the_last_window():
    w = WindowedAttainment(window_s=10.0)
    assert w.add(0.0, False) == 0.0
    assert w.add(1.0, True) == 0.5
    assert w.add(5.0, True) == pytest.approx(2 / 3)
    assert w.add(10.5, True) == 1.0  # the miss at t=0 left the window at t=10
    assert w.value(20.0) == 1.0  # 10.5 is inside (10, 20]
    assert math.isnan(w.value(20.5))  # nothing answered in (10.5, 20.5]


def test_a_window_must_be_positive():
    with pytest.raises(ValueError, match="window_s"):
        WindowedAttainment(0.0)
