"""A database file with a config entry missing a field, or a latency list that is not a list of
numbers, names the model, device, config and field (it used to say only ``'weight_bytes'``, or
"3 stage latencies but pp=1" for the string "abc")."""
from __future__ import annotations

import pickle

import pytest
from builders import make_profile

from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase


def _plain():
    db = ProfilingDatabase()
    db.add(make_profile("m", device="test-gpu"))
    return db.to_plain()


def _load(tmp_path, plain):
    path = tmp_path / "db.pkl"
    path.write_bytes(pickle.dumps(plain))
    return ProfilingDatabase.load(path)


@pytest.mark.parametrize("field", ["weight_bytes", "latency_s"])
def test_missing_field_is_named(tmp_path, field):
    plain = _plain()
    del plain["devices"]["test-gpu"]["m"]["configs"]["dp1_op1_pp1"][field]
    with pytest.raises(DatabaseError, match=rf"model 'm' on test-gpu: dp1_op1_pp1: missing field '{field}'"):
        _load(tmp_path, plain)


def test_latencies_that_are_not_a_list_are_named(tmp_path):
    plain = _plain()
    plain["devices"]["test-gpu"]["m"]["configs"]["dp1_op1_pp1"]["latency_s"][1] = "abc"
    with pytest.raises(DatabaseError, match=r"dp1_op1_pp1: 'latency_s' of batch 1 must be a list of numbers, got 'abc'"):
        _load(tmp_path, plain)


def test_good_file_loads(tmp_path):
    assert _load(tmp_path, _plain()).models("test-gpu") == ["m"]


def test_saving_into_a_missing_folder_names_the_database_not_a_temp_file(tmp_path):
    db = ProfilingDatabase.from_plain(_plain())
    target = tmp_path / "no" / "db.pkl"
    with pytest.raises(DatabaseError) as info:
        db.save(target)
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)


def test_db_merge_into_a_missing_folder_is_one_line(tmp_path, capsys):
    from alpa_serve_like.cli.main import main

    src = tmp_path / "a.pkl"
    ProfilingDatabase.from_plain(_plain()).save(src)
    assert main(["db", "merge", str(src), str(src), "--out", str(tmp_path / "no" / "m.pkl")]) == 2
    err = capsys.readouterr().err
    assert "m.pkl" in err and ".tmp" not in err and len(err.splitlines()) == 1
