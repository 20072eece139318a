"""Import of AlpaServe's original database pickle, without importing alpa_serve or running its code."""
import os
import pickle
import sys
from collections import OrderedDict

import numpy as np
import pytest
from builders import make_legacy_classes, registered_legacy_module, write_legacy_pickle

from alpa_serve_like import ParallelConfig
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase
from alpa_serve_like.profiling.legacy import (
    LegacyParallelConfig,
    LegacyProfilingResult,
    import_legacy_database,
    legacy_loads,
    profiles_from_legacy,
)

GB = 1024**3

BERT = {
    (1, 1, 1): ({1: [0.099], 2: [0.180]}, {1: [0.5 * GB], 2: [1.0 * GB]}, [2.6 * GB]),
    (1, 1, 2): ({1: [0.051, 0.052]}, {1: [0.25 * GB, 0.25 * GB]}, [1.3 * GB, 1.3 * GB]),
    (1, 4, 2): ({1: [0.02, 0.021], 4: [0.05, 0.05]}, {1: [1e6, 1e6], 4: [4e6, 4e6]}, [3.25e8, 3.25e8]),
}
MOE = {(1, 2, 1): ({1: [0.07]}, {1: [123]}, [1.0e9])}


@pytest.fixture(autouse=True)
def _no_alpa_serve_loaded():
    assert "alpa_serve" not in sys.modules
    yield
    assert "alpa_serve" not in sys.modules and "alpa_serve.profiling" not in sys.modules


def _check_bert(profile, device="v100-16gb"):
    assert profile.name == "bert-1.3b" and profile.device == device
    assert profile.source == "legacy-import" and profile.spec is None
    assert set(profile.configs) == {ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2), ParallelConfig(1, 4, 2)}
    one = profile.configs[ParallelConfig(1, 1, 1)]
    assert one.stage_latency_s == {1: (0.099,), 2: (0.180,)}
    assert one.weight_bytes == (round(2.6 * GB),)
    assert one.act_bytes == {1: (GB // 2,), 2: (GB,)}
    four = profile.configs[ParallelConfig(1, 4, 2)]
    assert four.stage_latency_s[4] == (0.05, 0.05)
    assert four.weight_bytes == (325_000_000, 325_000_000)
    assert four.act_bytes[4] == (4_000_000, 4_000_000)
    assert all(isinstance(w, int) for w in four.weight_bytes)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_import_every_pickle_protocol(tmp_path, protocol):
    path = tmp_path / "legacy.pkl"
    write_legacy_pickle(path, {"bert-1.3b": BERT, "moe-1.3b": MOE}, protocol=protocol)

    db = import_legacy_database(path)

    assert db.devices == ["v100-16gb"]
    assert db.models() == ["bert-1.3b", "moe-1.3b"]
    _check_bert(db.get("bert-1.3b"))
    assert db.get("moe-1.3b").configs[ParallelConfig(1, 2, 1)].act_bytes == {1: (123,)}


@pytest.mark.parametrize("protocol", [2, 4, 5])  # protocols 0/1 cannot pickle slotted classes
def test_slotted_dataclasses_are_read_too(tmp_path, protocol):
    path = tmp_path / "legacy.pkl"
    write_legacy_pickle(path, {"bert-1.3b": BERT}, protocol=protocol, slots=True)
    _check_bert(import_legacy_database(path, device="a100-80gb").get("bert-1.3b"), device="a100-80gb")


def test_imported_database_round_trips_through_our_format(tmp_path):
    write_legacy_pickle(tmp_path / "legacy.pkl", {"bert-1.3b": BERT})
    db = import_legacy_database(tmp_path / "legacy.pkl")
    db.save(tmp_path / "ours.pkl")
    assert ProfilingDatabase.load(tmp_path / "ours.pkl").profiles == db.profiles


def _pickle_with_legacy_classes(build, protocol):
    legacy = make_legacy_classes()
    with registered_legacy_module(legacy):
        return pickle.dumps(build(legacy), protocol=protocol)


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_ordered_dicts_and_numpy_scalars_are_decoded(protocol):
    def build(m):
        data = m.LatencyMemData(
            latency=OrderedDict([(np.int64(1), [np.float64(0.125), np.float32(0.25)]), (2, [0.3, 0.4])]),
            act_mem={1: [np.int32(7), np.uint64(2**40)], 2: [1, 2]},
            weight_mem=[np.float64(1.5e9), np.float16(2048.0)],
        )
        return OrderedDict([("gpt", m.ProfilingResult("gpt", {m.ParallelConfig(1, 1, 2): data}, 0.0, 0.0))])

    data = legacy_loads(_pickle_with_legacy_classes(build, protocol), where="x.pkl")
    (profile,) = profiles_from_legacy(data, device="v100-16gb")

    entry = profile.configs[ParallelConfig(1, 1, 2)]
    assert entry.stage_latency_s == {1: (0.125, 0.25), 2: (0.3, 0.4)}
    assert entry.act_bytes == {1: (7, 2**40), 2: (1, 2)}
    assert entry.weight_bytes == (1_500_000_000, 2048)
    assert all(type(x) is float for x in entry.stage_latency_s[1])


def test_parallel_config_keys_become_local_values():
    payload = _pickle_with_legacy_classes(lambda m: m.ParallelConfig(2, 4, 8), protocol=0)
    cfg = legacy_loads(payload)
    assert isinstance(cfg, LegacyParallelConfig) and cfg == (2, 4, 8)


def test_numpy_array_values_are_refused_with_a_hint():
    def build(m):
        data = m.LatencyMemData(latency={1: np.array([0.1])}, act_mem={}, weight_mem=[1.0])
        return {"x": m.ProfilingResult("x", {m.ParallelConfig(1, 1, 1): data}, 0.0, 0.0)}

    with pytest.raises(DatabaseError, match=r"refusing to load class numpy.*numpy arrays are not supported"):
        legacy_loads(_pickle_with_legacy_classes(build, protocol=4), where="x.pkl")


def test_unsupported_numpy_dtype_is_refused():
    def build(m):
        return [np.complex128(1 + 2j)]

    with pytest.raises(DatabaseError, match="numpy dtype 'c16' is not supported"):
        legacy_loads(_pickle_with_legacy_classes(build, protocol=2), where="x.pkl")


class _RunsShell:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_legacy_style_file_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"

    def build(m):
        data = m.LatencyMemData(latency={1: [0.1]}, act_mem={1: [_RunsShell(f"touch {marker}")]}, weight_mem=[1.0])
        return {"bert-1.3b": m.ProfilingResult("bert-1.3b", {m.ParallelConfig(1, 1, 1): data}, 0.0, 0.0)}

    path = tmp_path / "legacy.pkl"
    path.write_bytes(_pickle_with_legacy_classes(build, protocol))

    with pytest.raises(DatabaseError, match=r"legacy.pkl: refusing to load class (posix|nt)\.system"):
        import_legacy_database(path)
    assert not marker.exists()


def test_other_alpa_serve_classes_are_not_whitelisted():
    # A real-looking name outside the whitelist (AlpaServe's database class) is refused by name.
    payload = b"\x80\x02calpa_serve.profiling\nProfilingDatabase\n)\x81."
    with pytest.raises(DatabaseError, match="refusing to load class alpa_serve.profiling.ProfilingDatabase"):
        legacy_loads(payload, where="x.pkl")


@pytest.mark.parametrize("payload, expected", [
    # BUILD with slot state on a stand-in class would setattr on the class itself.
    (b"\x80\x02cnumpy\ndtype\nN}X\x08\x00\x00\x00__init__cnumpy\ndtype\ns\x86b.", "not a readable pickle"),
    (b"\x80\x02ccopyreg\n_reconstructor\nN}X\x0c\x00\x00\x00__defaults__)s\x86b.", "refusing to modify _reconstructor"),
    # _reconstructor may only rebuild the AlpaServe records, not e.g. a dict subclass of object.
    (b"\x80\x02ccopyreg\n_reconstructor\nccollections\nOrderedDict\ncbuiltins\nobject\nN\x87R.",
     "may only rebuild AlpaServe records"),
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.", "only latin-1 text"),
])
def test_stand_ins_cannot_be_abused(payload, expected):
    with pytest.raises(DatabaseError, match=expected):
        legacy_loads(payload, where="x.pkl")
    assert LegacyProfilingResult.field_names[0] == "model_name"


@pytest.mark.parametrize("results, expected", [
    ({"m": {(1, 1, 2): ({1: [0.1]}, {}, [1.0, 1.0])}}, r"model 'm' on v100-16gb dp1_op1_pp2 batch 1: 1 stage latencies but pp=2"),
    ({"m": {(1, 1, 1): ({1: [float("nan")]}, {}, [1.0])}}, r"model 'm' dp1_op1_pp1 latency\[1\]\[0\]: expected a finite value >= 0, got nan"),
    ({"m": {(1, 1, 1): ({1: [0.1]}, {1: ["TODO"]}, [1.0])}}, r"act_mem\[1\]\[0\]: expected a number, got 'TODO'"),
    ({"m": {(1, 1, 1): ({1: [0.1]}, {}, [-1.0])}}, r"weight_mem\[0\]: expected a finite value >= 0, got -1.0"),
    ({"m": {(1, 0, 1): ({1: [0.1]}, {}, [1.0])}}, r"model 'm': ParallelConfig.op must be a positive int"),
    ({"m": {(1, 1, 1): ({0: [0.1]}, {}, [1.0])}}, r"batch size 0 is not a positive int"),
    ({"m": {}}, r"model 'm' on v100-16gb: no parallel configs"),
])
def test_invalid_legacy_values_are_refused_with_a_clear_message(tmp_path, results, expected):
    path = tmp_path / "legacy.pkl"
    write_legacy_pickle(path, results)
    with pytest.raises(DatabaseError, match=expected) as err:
        import_legacy_database(path)
    assert str(err.value).startswith(str(path))


def test_wrong_shapes_are_refused():
    with pytest.raises(DatabaseError, match="expected a dict of model name -> ProfilingResult, got list"):
        profiles_from_legacy([], "v100-16gb", where="x.pkl")
    with pytest.raises(DatabaseError, match="model 'm': expected a ProfilingResult, got float"):
        profiles_from_legacy({"m": 1.0}, "v100-16gb", where="x.pkl")
    with pytest.raises(DatabaseError, match="already an alpa_serve_like database"):
        profiles_from_legacy({"format": "alpa_serve_like.profiling_db"}, "v100-16gb", where="x.pkl")


def test_truncated_legacy_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "legacy.pkl"
    write_legacy_pickle(path, {"bert-1.3b": BERT})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatabaseError, match=r"legacy.pkl: not a readable pickle"):
        import_legacy_database(path)
    with pytest.raises(DatabaseError, match="does not exist"):
        import_legacy_database(tmp_path / "missing.pkl")
