"""MIG geometries derived from the placement rules, and the option table built from a database."""
from __future__ import annotations

import pytest

from alpa_serve_like.compound.app_spec import CompoundApp, Task, Variant
from alpa_serve_like.compound.slice_table import SliceScaling, maximal_geometries, option_table
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase
from builders import make_profile


def test_maximal_geometries_follow_the_mig_rules():
    geoms = maximal_geometries()
    assert (7,) in geoms and (4, 3) in geoms and (3, 3) in geoms
    assert (3, 2, 2) in geoms  # 3g at memory offset 4, two 2g below it
    assert (2, 2, 2, 1) in geoms and (1,) * 7 in geoms
    assert (4, 4) not in geoms  # a 4g may only start at memory slice 0
    assert all(sum(g) <= 7 for g in geoms)
    assert len(set(geoms)) == len(geoms) == 12


def test_a_one_slice_instance_fills_memory_a_two_slice_one_cannot_take():
    # 4g (memory 0-3) + 2g (4-5) leaves memory 6 and one compute slice: a 1g fits there (starts
    # 0-6 allowed), so 4+2 is not maximal but 4+2+1 is.
    geoms = maximal_geometries()
    assert (4, 2, 1) in geoms and (4, 2) not in geoms


def _db(weight_bytes):
    db = ProfilingDatabase()
    db.add(make_profile("m", device="a100-80gb", weight_bytes=weight_bytes))
    return db


def test_option_table_scales_latency_and_respects_slice_memory():
    app = CompoundApp("one", (Task("t", (Variant("m", 0.9),)),), slo_s=10.0)
    rows = option_table(app, _db(1000), scaling=SliceScaling(compute_exponent=0.8, mps_exponent=0.7))
    by_key = {(o.compute_slices, o.mps): o for o in rows}
    assert len(rows) == 5 * 4  # tiny model: every slice type and MPS level fits
    assert by_key[7, 1].latency_s == pytest.approx(1.0)  # make_profile: 1 s at batch 1 on pp=1
    assert by_key[1, 1].latency_s == pytest.approx(7 ** 0.8)
    assert by_key[7, 4].latency_s == pytest.approx(4 ** 0.7)
    assert by_key[7, 4].throughput_rps == pytest.approx(4 / 4 ** 0.7)
    # 15 GiB of weights: no 1g (10 GiB of 80); one copy on a 2g (20 GiB); two on a 3g/4g (40 GiB).
    rows = option_table(app, _db(15 * GiB))
    fits = {(o.compute_slices, o.mps) for o in rows}
    assert not any(k == 1 for k, _ in fits)
    assert (2, 1) in fits and (2, 2) not in fits and (3, 2) in fits and (3, 3) not in fits
    assert (7, 4) in fits and (4, 3) not in fits


def test_option_table_names_a_missing_model():
    app = CompoundApp("one", (Task("t", (Variant("ghost", 0.9),)),), slo_s=1.0)
    with pytest.raises(DatabaseError, match="model 'ghost' is not in the profiling database on a100-80gb"):
        option_table(app, _db(1000))
