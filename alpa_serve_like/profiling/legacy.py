"""Import of AlpaServe's original profiling database (a pickle of ``alpa_serve.profiling`` objects).

AlpaServe's ``gen_serving_database.py`` pickles a dict ``model name -> ProfilingResult``, where
``ProfilingResult`` (a dataclass: model_name, para_dict, preprocess_cpu, postprocess_cpu) maps each
``ParallelConfig`` (a namedtuple dp, op, pp) to a ``LatencyMemData`` dataclass (latency:
{batch: [stage seconds]}, act_mem: {batch: [stage bytes]}, weight_mem: [stage bytes]).

Such a file names classes, and ``pickle.load`` on it would import (and trust) whatever it names.
Instead the database's ``restricted_loads`` resolves a short whitelist of names to inert stand-ins defined here: alpa_serve is never imported
and nothing in the file can run code. Everything else is refused with a DatabaseError naming it.
Numpy scalars (which some pipelines leave in the values) are decoded from their raw bytes with
``struct``; numpy itself is not touched. preprocess_cpu/postprocess_cpu have no place in our
schema and are dropped.
"""
from __future__ import annotations

import math
import os
import struct

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.profiling.database import (FORMAT, DatabaseError, ProfilingDatabase, imported_profile,
                                                read_database_file, restricted_loads)

DEFAULT_LEGACY_DEVICE = "v100-16gb"
"""AlpaServe's published database was measured on V100-16GB (AWS p3.16xlarge)."""

SOURCE = "legacy-import"


class _Sealed(type):
    """Metaclass of the stand-ins: pickle's BUILD opcode can ``setattr`` on whatever object is on
    its stack, the stand-in classes included, so they refuse attribute assignment altogether."""

    def __setattr__(cls, name, value):
        raise DatabaseError(f"refusing to modify class {cls.__name__} (attribute {name!r})")

    def __delattr__(cls, name):
        raise DatabaseError(f"refusing to modify class {cls.__name__} (attribute {name!r})")


class _SafeCallable:
    """A whitelisted function that BUILD cannot modify (a plain function has a writable
    ``__dict__`` and ``__defaults__``)."""

    __slots__ = ("_fn",)

    def __init__(self, fn):
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args):
        return self._fn(*args)

    def __setattr__(self, name, value):
        raise DatabaseError(f"refusing to modify {self._fn.__name__} (attribute {name!r})")

    def __reduce__(self):
        raise TypeError("not picklable")


class _LegacyRecord(metaclass=_Sealed):
    """Inert stand-in for a pickled dataclass: keeps its field values, runs none of its code."""

    __slots__ = ("fields",)
    field_names: tuple[str, ...] = ()
    legacy_name = ""

    def __new__(cls, *args, **kwargs):
        # NEWOBJ passes no args for a dataclass; a REDUCE-style pickle may pass the fields.
        if len(args) > len(cls.field_names):
            raise DatabaseError(f"{cls.legacy_name}: {len(args)} arguments, expected at most {len(cls.field_names)}")
        self = object.__new__(cls)
        self.fields = dict(zip(cls.field_names, args))
        self.fields.update(kwargs)
        return self

    def __setstate__(self, state):
        # A plain class pickles its __dict__; a slotted one (dict or None, {slot: value}).
        parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
        for part in parts:
            if part is None:
                continue
            if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
                raise DatabaseError(f"{self.legacy_name}: unexpected pickled state of type {type(part).__name__}")
            self.fields.update(part)

    def __repr__(self) -> str:
        return f"<legacy {self.legacy_name}>"


class LegacyProfilingResult(_LegacyRecord):
    __slots__ = ()
    field_names = ("model_name", "para_dict", "preprocess_cpu", "postprocess_cpu")
    legacy_name = "alpa_serve.profiling.ProfilingResult"


class LegacyLatencyMemData(_LegacyRecord):
    __slots__ = ()
    field_names = ("latency", "act_mem", "weight_mem")
    legacy_name = "alpa_serve.profiling.LatencyMemData"


class LegacyParallelConfig(tuple, metaclass=_Sealed):
    """Stand-in for AlpaServe's ``ParallelConfig`` namedtuple (dp, op, pp)."""

    __slots__ = ()

    def __new__(cls, *args):
        # NEWOBJ / REDUCE give (dp, op, pp); copyreg._reconstructor gives one tuple.
        if len(args) == 1 and isinstance(args[0], (tuple, list)):
            args = tuple(args[0])
        return tuple.__new__(cls, args)

    def __setstate__(self, state):
        if state:
            raise DatabaseError("alpa_serve.profiling.ParallelConfig: unexpected pickled state")


# ---- numpy scalars, decoded without numpy -----------------------------------------------------
_NUMPY_SCALAR_CODES = {
    "f2": "e", "f4": "f", "f8": "d",
    "i1": "b", "i2": "h", "i4": "i", "i8": "q",
    "u1": "B", "u2": "H", "u4": "I", "u8": "Q",
    "b1": "?",
}


class _NumpyDType(metaclass=_Sealed):
    """Stand-in for ``numpy.dtype``: only the fixed-size number codes a scalar needs."""

    __slots__ = ("code", "byte_order")

    def __init__(self, code, align=False, copy=True):
        if code not in _NUMPY_SCALAR_CODES:
            raise DatabaseError(
                f"numpy dtype {code!r} is not supported in a legacy database (only "
                f"{', '.join(_NUMPY_SCALAR_CODES)}); convert the values to Python numbers first"
            )
        self.code = code
        self.byte_order = "="

    def __setstate__(self, state):
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if order not in ("<", ">", "|", "="):
            raise DatabaseError(f"numpy dtype {self.code!r}: unexpected pickled state {state!r}")
        self.byte_order = "<" if order == "|" else order


def _numpy_scalar(dtype, raw=None):
    """Stand-in for ``numpy.core.multiarray.scalar``: the Python number held in ``raw``."""
    if not isinstance(dtype, _NumpyDType) or not isinstance(raw, bytes):
        raise DatabaseError("numpy scalar: expected a dtype and raw bytes (object scalars are refused)")
    fmt = dtype.byte_order + _NUMPY_SCALAR_CODES[dtype.code]
    if struct.calcsize(fmt) != len(raw):
        raise DatabaseError(f"numpy scalar of dtype {dtype.code}: {len(raw)} bytes, expected {struct.calcsize(fmt)}")
    (value,) = struct.unpack(fmt, raw)
    return float(value) if dtype.code[0] == "f" else value


def _codecs_encode(text, encoding="utf-8"):
    """Stand-in for ``_codecs.encode``: how protocols 0-2 spell bytes (latin-1 text)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DatabaseError(f"_codecs.encode: only latin-1 text is allowed, got encoding {encoding!r}")
    return text.encode("latin-1")


_STAND_INS = (LegacyProfilingResult, LegacyLatencyMemData, LegacyParallelConfig)


def _reconstructor(cls, base, state):
    """Stand-in for ``copyreg._reconstructor`` (protocols 0 and 1): only builds our stand-ins."""
    if cls not in _STAND_INS:
        raise DatabaseError(f"copyreg._reconstructor may only rebuild AlpaServe records, got {cls!r}")
    if base is tuple and cls is LegacyParallelConfig:
        return cls(state)
    if base is object and state is None and cls is not LegacyParallelConfig:
        return cls()
    raise DatabaseError(f"copyreg._reconstructor: unexpected base {base!r} for {cls.__name__}")


def _newobj(cls, *args):
    """Stand-in for ``copyreg.__newobj__``."""
    if cls not in _STAND_INS:
        raise DatabaseError(f"copyreg.__newobj__ may only build AlpaServe records, got {cls!r}")
    return cls.__new__(cls, *args)


# Module names as Python 2 spelled them (protocols 0-2 with fix_imports) map to today's.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

_WHITELIST = {
    ("alpa_serve.profiling", "ProfilingResult"): LegacyProfilingResult,
    ("alpa_serve.profiling", "LatencyMemData"): LegacyLatencyMemData,
    ("alpa_serve.profiling", "ParallelConfig"): LegacyParallelConfig,
    ("collections", "OrderedDict"): dict,  # builtin types refuse setattr already
    ("copyreg", "_reconstructor"): _SafeCallable(_reconstructor),
    ("copyreg", "__newobj__"): _SafeCallable(_newobj),
    ("builtins", "object"): object,
    ("builtins", "tuple"): tuple,
    ("_codecs", "encode"): _SafeCallable(_codecs_encode),
    ("numpy", "dtype"): _NumpyDType,
    ("numpy.core.multiarray", "scalar"): _SafeCallable(_numpy_scalar),
    ("numpy._core.multiarray", "scalar"): _SafeCallable(_numpy_scalar),
}


def _legacy_refusal(module: str) -> str:
    hint = " (numpy arrays are not supported: store lists of Python numbers)" if module.startswith("numpy") else ""
    return (f"an AlpaServe profiling database holds only alpa_serve.profiling.ProfilingResult / "
            f"LatencyMemData / ParallelConfig records and numbers{hint}; this file may be unsafe to unpickle")


def legacy_loads(payload: bytes, where: str = "legacy database") -> object:
    """Unpickle an AlpaServe database into stand-in records, refusing every other class."""
    return restricted_loads(payload, where, allowed=_WHITELIST, rename=_PY2_MODULES, refusal=_legacy_refusal,
                            expected="AlpaServe's profiling_result.pkl")


# ---- conversion to ModelProfile ----------------------------------------------------------------
def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DatabaseError(f"{what}: expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise DatabaseError(f"{what}: expected a finite value >= 0, got {value!r}")
    return value


def _numbers(values, what: str) -> list:
    if not isinstance(values, (list, tuple)):
        raise DatabaseError(f"{what}: expected a list of per-stage values, got {type(values).__name__}")
    return [_number(v, f"{what}[{i}]") for i, v in enumerate(values)]


def _batch_table(table, what: str) -> dict[int, list]:
    if not isinstance(table, dict):
        raise DatabaseError(f"{what}: expected a dict batch size -> per-stage list, got {type(table).__name__}")
    out = {}
    for batch, values in table.items():
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise DatabaseError(f"{what}: batch size {batch!r} is not a positive int")
        out[batch] = _numbers(values, f"{what}[{batch}]")
    return out


def _parallel_config(key, what: str) -> ParallelConfig:
    if not isinstance(key, tuple) or len(key) != 3:
        raise DatabaseError(f"{what}: parallel config {key!r} is not a (dp, op, pp) tuple")
    try:
        return ParallelConfig(*key)
    except ValueError as exc:
        raise DatabaseError(f"{what}: {exc}") from None


def _config_profile(config: ParallelConfig, record, what: str) -> ConfigProfile:
    if not isinstance(record, LegacyLatencyMemData):
        raise DatabaseError(f"{what}: expected a LatencyMemData record, got {type(record).__name__}")
    fields = record.fields
    missing = [f for f in ("latency", "weight_mem") if f not in fields]
    if missing:
        raise DatabaseError(f"{what}: LatencyMemData lacks {', '.join(missing)}")
    latency = _batch_table(fields["latency"], f"{what} latency")
    act = _batch_table(fields.get("act_mem") or {}, f"{what} act_mem")
    weight = _numbers(fields["weight_mem"], f"{what} weight_mem")
    return ConfigProfile(
        config=config,
        stage_latency_s={b: tuple(float(x) for x in lat) for b, lat in latency.items()},
        weight_bytes=tuple(int(round(w)) for w in weight),
        act_bytes={b: tuple(int(round(a)) for a in acts) for b, acts in act.items()},
    )


def profiles_from_legacy(data: object, device: str, where: str = "legacy database") -> list[ModelProfile]:
    """ModelProfiles (source "legacy-import", no spec) from an unpickled AlpaServe database."""
    if not isinstance(data, dict):
        raise DatabaseError(
            f"{where}: expected a dict of model name -> ProfilingResult, got {type(data).__name__}"
        )
    if data.get("format") == FORMAT:
        raise DatabaseError(f"{where} is already an alpa_serve_like database; load it directly")
    profiles = []
    for name, result in data.items():
        if not isinstance(name, str):
            raise DatabaseError(f"{where}: model name {name!r} is not a string")
        if not isinstance(result, LegacyProfilingResult):
            raise DatabaseError(f"{where}: model {name!r}: expected a ProfilingResult, got {type(result).__name__}")
        para_dict = result.fields.get("para_dict")
        if not isinstance(para_dict, dict):
            raise DatabaseError(f"{where}: model {name!r}: ProfilingResult.para_dict is missing or not a dict")
        configs = {}
        for key, record in para_dict.items():
            config = _parallel_config(key, f"{where}: model {name!r}")
            configs[config] = _config_profile(config, record, f"{where}: model {name!r} {config.key}")
        profiles.append(imported_profile(name, device, configs, SOURCE, where))
    return profiles


def import_legacy_database(path: str | os.PathLike, device: str = DEFAULT_LEGACY_DEVICE) -> ProfilingDatabase:
    """Read an AlpaServe ``profiling_result.pkl`` safely and file its models under ``device``."""
    where = str(path)
    db = ProfilingDatabase()
    for profile in profiles_from_legacy(legacy_loads(read_database_file(path), where), device, where):
        db.add(profile)
    return db
