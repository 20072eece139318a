"""The profiling database file: safe loading, round trips, and validation messages."""
import math
import os
import pickle
import subprocess

import pytest
from builders import make_database, make_profile

from alpa_serve_like import ConfigProfile, ModelProfile, ModelSpec, ParallelConfig, ProfileError
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, restricted_loads


class _RunsShell:
    """Unpickling this would run a shell command (the classic pickle exploit)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _SpawnsProcess:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (subprocess.Popen, (["sh", "-c", self.command],))


class _Evals:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (eval, (f"__import__('os').system({self.command!r})",))


def _spec() -> ModelSpec:
    return ModelSpec(name="tiny", family="bert", num_layers=2, hidden_size=64, num_heads=4,
                     seq_len=32, vocab_size=100)


# ---- refusing crafted pickles ------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("exploit, named", [
    (_RunsShell, ".system"), (_SpawnsProcess, ".Popen"), (_Evals, ".eval"),  # module spelled per protocol
])
def test_crafted_pickle_is_refused_without_running_it(tmp_path, protocol, exploit, named):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(exploit(f"touch {marker}"), protocol=protocol))

    with pytest.raises(DatabaseError, match="refusing to load class") as err:
        ProfilingDatabase.load(path)

    assert named in str(err.value)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_exploit_hidden_inside_valid_looking_database_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    plain = make_database().to_plain()
    plain["devices"]["test-gpu"]["m0"]["source"] = _RunsShell(f"touch {marker}")
    path = tmp_path / "db.pkl"
    path.write_bytes(pickle.dumps(plain, protocol=4))

    with pytest.raises(DatabaseError, match=r"posix\.system|nt\.system"):
        ProfilingDatabase.load(path)
    assert not marker.exists()


def test_unpickler_refuses_even_harmless_classes():
    # A class the database never writes is refused, however innocent: there is no whitelist.
    from collections import OrderedDict

    with pytest.raises(DatabaseError, match="collections.OrderedDict"):
        restricted_loads(pickle.dumps(OrderedDict(a=1)), where="x.pkl")


@pytest.mark.parametrize("payload, expected", [
    (b"", "not a readable pickle"),
    (b"\x00\x01garbage\xff" * 8, "not a readable pickle"),
    (b"hello world\n", "not a readable pickle"),
])
def test_garbage_files_give_a_clear_error(tmp_path, payload, expected):
    path = tmp_path / "bad.pkl"
    path.write_bytes(payload)
    with pytest.raises(DatabaseError, match=expected) as err:
        ProfilingDatabase.load(path)
    assert str(path) in str(err.value)


def test_truncated_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "db.pkl"
    make_database().save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatabaseError, match="not a readable pickle"):
        ProfilingDatabase.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DatabaseError, match="does not exist; generate one with 'alpa-serve-like profile"):
        ProfilingDatabase.load(tmp_path / "nope.pkl")
    with pytest.raises(DatabaseError, match="is a directory"):
        ProfilingDatabase.load(tmp_path)


def test_plain_pickle_of_another_format_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"bert-1.3b": {"latency": [0.1]}}))
    with pytest.raises(DatabaseError, match="not an alpa_serve_like profiling database.*import-legacy"):
        ProfilingDatabase.load(path)


def test_unknown_version_is_refused(tmp_path):
    plain = make_database().to_plain()
    plain["version"] = 99
    path = tmp_path / "db.pkl"
    path.write_bytes(pickle.dumps(plain))
    with pytest.raises(DatabaseError, match="version 99 is not supported"):
        ProfilingDatabase.load(path)


# ---- round trip ---------------------------------------------------------------------------------
def test_save_load_round_trip_is_exact(tmp_path):
    with_spec = ModelProfile(
        name="tiny", device="a100-80gb", spec=_spec(), source="analytic",
        configs={ParallelConfig(1, 2, 2): ConfigProfile(
            config=ParallelConfig(1, 2, 2),
            stage_latency_s={1: (0.1234567890123, 0.2), 8: (1e-9, 3.5)},
            weight_bytes=(2**40 + 1, 7),
            act_bytes={1: (0, 5), 8: (123456789, 0)},
        )},
    )
    db = make_database(make_profile("m0"), make_profile("m1", weight_bytes=4096), with_spec)
    path = tmp_path / "db.pkl"
    db.save(path)

    loaded = ProfilingDatabase.load(path)

    assert loaded.devices == ["a100-80gb", "test-gpu"]
    assert loaded.profiles == db.profiles
    assert loaded.get("tiny").spec == _spec()
    assert loaded.get("tiny").configs[ParallelConfig(1, 2, 2)].stage_latency_s[1][0] == 0.1234567890123
    assert list(tmp_path.iterdir()) == [path]  # the atomic write left no temporary file


def test_save_refuses_an_invalid_database(tmp_path):
    db = make_database()
    bad = make_profile("bad")
    entry = bad.configs[ParallelConfig(1, 1, 2)]
    configs = dict(bad.configs)
    configs[ParallelConfig(1, 1, 2)] = ConfigProfile(entry.config, {1: (0.5,)}, entry.weight_bytes)
    db.profiles["test-gpu"]["bad"] = ModelProfile("bad", "test-gpu", configs)  # bypasses add()
    with pytest.raises(ProfileError, match="1 stage latencies but pp=2"):
        db.save(tmp_path / "db.pkl")
    assert not (tmp_path / "db.pkl").exists()


# ---- validation messages ------------------------------------------------------------------------
def test_unknown_model_lists_the_known_ones():
    db = make_database(make_profile("alpha"), make_profile("beta"))
    with pytest.raises(DatabaseError, match=r"model 'gamma' is not in the profiling database on test-gpu "
                                            r"\(known: alpha, beta\)"):
        db.get("gamma", "test-gpu")
    with pytest.raises(DatabaseError, match=r"\(known: alpha, beta\)"):
        db.get("gamma")
    with pytest.raises(DatabaseError, match=r"device 'h100-80gb' is not in the profiling database \(known: test-gpu\)"):
        db.get("alpha", "h100-80gb")


def test_missing_config_and_batch_size_name_what_exists():
    profile = make_profile("m0", batch_sizes=(1, 2))
    with pytest.raises(ProfileError, match=r"no profile for dp1_op4_pp1 \(known: dp1_op1_pp1, dp1_op1_pp2, dp1_op1_pp4\)"):
        profile.config(ParallelConfig(1, 4, 1))
    with pytest.raises(ProfileError, match=r"no latency for batch size 16 \(profiled: \[1, 2\]\)"):
        profile.config(ParallelConfig(1, 1, 2)).latency_s(16)


def test_require_lists_every_gap():
    db = make_database(make_profile("m0", batch_sizes=(1, 2)), make_profile("m1", batch_sizes=(1, 2, 4)))
    db.require(models=["m0", "m1"], configs=[ParallelConfig(1, 1, 4)], batch_sizes=[1, 2])  # complete
    with pytest.raises(DatabaseError) as err:
        db.require(models=["m0", "m1", "m9"], configs=[ParallelConfig(1, 1, 1), ParallelConfig(1, 2, 1)],
                   batch_sizes=[4])
    message = str(err.value)
    assert "model 'm9' is not in the profiling database (known: m0, m1)" in message
    assert "model 'm0' on test-gpu dp1_op1_pp1: no batch size [4] (profiled: [1, 2])" in message
    assert "model 'm0' on test-gpu: no profile for dp1_op2_pp1" in message
    assert "model 'm1' on test-gpu: no profile for dp1_op2_pp1" in message
    assert "'m1' on test-gpu dp1_op1_pp1" not in message  # m1 has batch 4


def _plain_with(mutate) -> dict:
    plain = make_database(make_profile("m0")).to_plain()
    mutate(plain["devices"]["test-gpu"]["m0"]["configs"])
    return plain


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["dp1_op1_pp4"]["latency_s"].__setitem__(1, [0.1, 0.1]), "2 stage latencies but pp=4"),
    (lambda c: c["dp1_op1_pp2"].__setitem__("weight_bytes", [1, 2, 3]), "weight_bytes has 3 stages but pp=2"),
    (lambda c: c["dp1_op1_pp2"]["act_bytes"].__setitem__(2, [1]), "1 stage activation sizes but pp=2"),
    (lambda c: c["dp1_op1_pp1"]["latency_s"].__setitem__(1, [-0.5]), r"latency\[0\]: expected a finite value >= 0, got -0.5"),
    (lambda c: c["dp1_op1_pp1"]["latency_s"].__setitem__(1, [math.nan]), "expected a finite value >= 0, got nan"),
    (lambda c: c["dp1_op1_pp1"]["latency_s"].__setitem__(1, [math.inf]), "expected a finite value >= 0, got inf"),
    (lambda c: c["dp1_op1_pp2"].__setitem__("weight_bytes", [10, -1]), r"weight_bytes\[1\]: expected a finite value >= 0, got -1"),
    (lambda c: c["dp1_op1_pp1"]["latency_s"].__setitem__(1, ["fast"]), "expected a number, got 'fast'"),
    (lambda c: c["dp1_op1_pp1"]["latency_s"].__setitem__(0, [0.1]), "batch size 0 is not a positive int"),
    (lambda c: c["dp1_op1_pp1"].__setitem__("latency_s", {}), "no batch sizes profiled"),
    (lambda c: c.__setitem__("dp1_op1_pp8", {"weight_bytes": [1] * 8}), "'latency_s'"),
    (lambda c: c.__setitem__("dp1-op1-pp8", c["dp1_op1_pp1"]), "not of the form 'dp1_op2_pp4'"),
    (lambda c: c.__setitem__("dp1_op1_pp1", [1, 2]), "model 'm0' on test-gpu"),
    (lambda c: c["dp1_op1_pp1"].__setitem__("latency_s", [0.1]), "model 'm0' on test-gpu"),
    (lambda c: c.clear(), "no parallel configs"),
])
def test_invalid_entries_are_refused_on_load_with_a_clear_message(tmp_path, mutate, expected):
    path = tmp_path / "db.pkl"
    path.write_bytes(pickle.dumps(_plain_with(mutate)))
    with pytest.raises(DatabaseError, match=expected) as err:
        ProfilingDatabase.load(path)
    assert str(err.value).startswith(f"{path}: model 'm0' on test-gpu")


def test_add_validates_and_can_refuse_duplicates():
    db = make_database(make_profile("m0"))
    with pytest.raises(DatabaseError, match="already present"):
        db.add(make_profile("m0"), replace=False)
    bad = ModelProfile("neg", "test-gpu", {ParallelConfig(): ConfigProfile(ParallelConfig(), {1: (0.1,)}, (-5,))})
    with pytest.raises(ProfileError, match=r"weight_bytes\[0\]: expected a finite value >= 0, got -5"):
        db.add(bad)
    assert db.models() == ["m0"]
