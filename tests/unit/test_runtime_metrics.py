"""``ServeMetrics`` on recording fakes of Ray's metric classes and a fake clock (no Ray)."""
import math
import types

import pytest

from alpa_serve_like.runtime import metrics as metrics_module


class _Recorder:
    def __init__(self, name, description="", tag_keys=(), boundaries=None):
        self.name, self.boundaries, self.values = name, boundaries, []

    def set(self, value, tags):
        self.values.append((dict(tags), value))

    observe = set

    def inc(self, tags):
        self.values.append((dict(tags), 1))


@pytest.fixture
def sink(monkeypatch):
    fake = types.SimpleNamespace(Counter=_Recorder, Gauge=_Recorder, Histogram=_Recorder)
    monkeypatch.setattr(metrics_module, "metrics", fake)
    now = [100.0]
    return metrics_module.ServeMetrics(3, window_s=10.0, clock=lambda: now[0]), now


def test_every_group_has_a_group_up_series_from_the_start(sink):
    m, _ = sink
    assert m.group_up.values == [({"group": "0"}, 0.0), ({"group": "1"}, 0.0), ({"group": "2"}, 0.0)]
    m.on_group_state(1, True)
    assert m.group_up.values[-1] == ({"group": "1"}, 1.0)


def test_times_are_seconds_and_attainment_is_windowed(sink):
    m, now = sink
    assert all(not r.name.endswith("_ms") for r in (m.latency, m.stage, m.requests, m.slo_met, m.attainment))
    assert m.latency.boundaries[0] < 0.01 < 1.0 < m.latency.boundaries[-1]  # seconds, not milliseconds
    m.on_request("a", "ok", 0.25, False)
    now[0] = 105.0
    m.on_request("a", "ok", 0.05, True)
    assert m.latency.values == [({"model": "a"}, 0.25), ({"model": "a"}, 0.05)]
    assert m.attainment.values[-1] == ({"model": "a"}, 0.5)
    now[0] = 112.0  # the miss at t=100 has left the 10 s window
    m.on_request("a", "ok", 0.01, True)
    assert m.attainment.values[-1] == ({"model": "a"}, 1.0)
    m.on_request("a", "rejected", math.nan, False)  # a rejection has no latency but counts as a miss
    assert m.attainment.values[-1] == ({"model": "a"}, 2 / 3) and len(m.latency.values) == 3
    m.on_batch(2, [0.003, 0.004])
    assert m.stage.values == [({"group": "2", "stage": "0"}, 0.003), ({"group": "2", "stage": "1"}, 0.004)]
