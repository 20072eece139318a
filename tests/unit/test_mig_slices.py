"""The MIG slice latency model against the measured MIGPerf A100-80GB table (tolerance 25 %)."""
from pathlib import Path

import numpy as np
import pytest

from alpa_serve_like.cost_model import mig_slices as ms

CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "reference" / "migperf_a100_80gb_inference.csv"
TOLERANCE = 0.25
needs_csv = pytest.mark.skipif(not CSV.exists(), reason=f"reference data not at {CSV}")


@needs_csv
def test_calibrated_model_is_within_25_percent_of_every_used_row():
    rows = ms.calibration_rows(ms.read_migperf_csv(CSV))
    assert len(rows) == 116  # 3 networks x 4 profiles x 9 batches, + BERT at 32/128 tokens
    err = ms.relative_errors(rows)
    worst = int(np.argmax(np.abs(err)))
    assert np.abs(err).max() <= TOLERANCE, (rows[worst], err[worst])
    assert np.median(np.abs(err)) < 0.06


@needs_csv
def test_small_batches_barely_care_about_slice_size_large_ones_scale():
    b1 = [ms.slice_latency_s("resnet50", k, 1) for k in (1, 7)]
    b256 = [ms.slice_latency_s("resnet50", k, 256) for k in (1, 7)]
    assert b1[0] / b1[1] < 1.6
    assert b256[0] / b256[1] > 6.0


def test_fit_recovers_a_model_from_its_own_predictions():
    truth = ms.SliceScaling(((1, 1.0), (2, 2.1), (3, 3.3), (7, 7.5)), 5.0)
    net = ms.NetworkSliceModel("toy", 3e-3, 2e-3, 1.5e-3)
    rows = [ms.MigMeasurement("toy", k, f"{k}g", b, None, ms.slice_latency_s(net, k, b, scaling=truth))
            for k in (1, 2, 3, 7) for b in (1, 2, 4, 8, 16, 32, 64)]
    scaling, nets = ms.fit_slice_model(rows, restarts=2, iterations=3000)
    assert np.abs(ms.relative_errors(rows, scaling, nets)).max() < 0.02


def test_4g_is_interpolated_and_unknown_sizes_refused():
    s = ms.CALIBRATED_SCALING
    assert s.speed(3) < s.speed(4) < s.speed(7)
    assert s.speed(4) == pytest.approx(s.speed(3) + (s.speed(7) - s.speed(3)) / 4)
    with pytest.raises(ValueError, match="outside the calibrated sizes"):
        s.speed(8)
    with pytest.raises(KeyError, match="calibrated: bert-base"):
        ms.slice_latency_s("gpt-2", 1, 1)
