"""The option table: the shared slice and MPS models applied to database latencies, slice memory."""
from __future__ import annotations

import pytest

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.slice_table import SliceModel, option_table
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.cost_model.mig_slices import CALIBRATED_SCALING
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase
from builders import make_profile

APP = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=10.0)


def _db(weight_bytes=1000, extra=()):
    db = ProfilingDatabase()
    db.add(make_profile("m", device="a100-80gb", weight_bytes=weight_bytes))
    for profile in extra:
        db.add(profile)
    return db


def test_without_a_floor_latency_scales_with_the_calibrated_slice_speeds():
    rows = option_table(APP, _db(), model=SliceModel(floor_share=0.0))
    by_key = {(o.compute_slices, o.mps): o for o in rows}
    assert len(rows) == 5 * 4  # tiny model: every slice type and MPS level fits
    speed = CALIBRATED_SCALING.speed
    assert by_key[7, 1].latency_s == pytest.approx(1.0)  # make_profile: 1 s at batch 1 on pp=1
    assert by_key[1, 1].latency_s == pytest.approx(speed(7) / speed(1))
    assert by_key[4, 1].latency_s == pytest.approx(speed(7) / speed(4))
    # No floor: MPS copies only share the slice, so throughput does not grow.
    assert by_key[3, 4].latency_s == pytest.approx(4 * by_key[3, 1].latency_s)
    assert by_key[3, 4].throughput_rps == pytest.approx(by_key[3, 1].throughput_rps)


def test_a_floor_makes_small_slices_and_mps_pay_off():
    flat = {(o.compute_slices, o.mps): o for o in option_table(APP, _db(), model=SliceModel(floor_share=0.0))}
    rows = {(o.compute_slices, o.mps): o for o in option_table(APP, _db(), model=SliceModel(floor_share=0.5))}
    assert rows[7, 1].latency_s == pytest.approx(1.0)
    assert rows[1, 1].latency_s < flat[1, 1].latency_s
    assert rows[7, 2].throughput_rps > rows[7, 1].throughput_rps
    assert rows[7, 4].latency_s <= 4 * rows[7, 1].latency_s


def test_a_profile_measured_on_the_slice_is_used_as_is():
    sliced = make_profile("m", device="a100-80gb/3g.40gb", stage_latency_s=None)  # 1 s at batch 1
    rows = {(o.compute_slices, o.mps): o for o in option_table(APP, _db(extra=(sliced,)))}
    assert rows[3, 1].latency_s == pytest.approx(1.0)
    assert rows[2, 1].latency_s > 1.0  # not measured: carried from the whole GPU by the slice model


def test_slice_memory_bounds_the_copies():
    # 15 GiB of weights: no 1g (10 GB); one copy on a 2g (20 GB); two on a 3g/4g (40 GB).
    fits = {(o.compute_slices, o.mps) for o in option_table(APP, _db(15 * GiB))}
    assert not any(k == 1 for k, _ in fits)
    assert (2, 1) in fits and (2, 2) not in fits and (3, 2) in fits and (3, 3) not in fits
    assert (7, 4) in fits and (4, 3) not in fits


def test_option_table_names_a_missing_model():
    app = CompoundApp("one", (Task("t", (Variant("ghost", 0.9),)),), slo_s=1.0)
    with pytest.raises(DatabaseError, match="model 'ghost' is not in the profiling database on a100-80gb"):
        option_table(app, _db())
