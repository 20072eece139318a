"""The profiling database: the only module that reads or writes ``profiling_result.pkl``.

On disk the database is a pickle of builtin containers only (dict, list, str, int, float, bool,
None), so it can be loaded by a restricted unpickler that refuses every class: a crafted file
cannot run code. Layout (version 1)::

    {"format": "alpa_serve_like.profiling_db", "version": 1,
     "devices": {device: {model: {"source": str, "spec": {ModelSpec fields} | None,
                                  "configs": {"dp1_op2_pp4": {"weight_bytes": [...],
                                                              "latency_s": {batch: [...]},
                                                              "act_bytes": {batch: [...]}}}}}}}

Files in AlpaServe's original format (pickled ``alpa_serve.profiling`` objects) are read by
``alpa_serve_like.profiling.legacy``, never by ``pickle.load``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile, ProfileError

FORMAT = "alpa_serve_like.profiling_db"
VERSION = 1
DEFAULT_DB_NAME = "profiling_result.pkl"


class DatabaseError(ValueError):
    """The database file is unreadable, unsafe, malformed, or lacks what was asked for."""


@dataclass
class ProfilingDatabase:
    """Model profiles keyed by device type, then model name.

    Mutable while being filled (``add``); every profile in it is an immutable value.
    """

    profiles: dict[str, dict[str, ModelProfile]] = field(default_factory=dict)

    # ---- queries -------------------------------------------------------------------------------
    @property
    def devices(self) -> list[str]:
        return sorted(self.profiles)

    def models(self, device: str | None = None) -> list[str]:
        if device is None:
            return sorted({m for per_dev in self.profiles.values() for m in per_dev})
        return sorted(self._device(device))

    def get(self, model: str, device: str | None = None) -> ModelProfile:
        """The profile of ``model`` on ``device`` (may be omitted when only one device has it)."""
        if device is None:
            holders = [d for d, per_dev in self.profiles.items() if model in per_dev]
            if len(holders) == 1:
                device = holders[0]
            elif not holders:
                raise DatabaseError(self._unknown_model_message(model, None))
            else:
                raise DatabaseError(
                    f"model {model!r} is profiled on several devices ({', '.join(sorted(holders))}); "
                    f"pass device=..."
                )
        per_dev = self._device(device)
        if model not in per_dev:
            raise DatabaseError(self._unknown_model_message(model, device))
        return per_dev[model]

    def for_device(self, device: str) -> dict[str, ModelProfile]:
        """All profiles on ``device``, as a new dict (model name -> profile)."""
        return dict(self._device(device))

    def _device(self, device: str) -> dict[str, ModelProfile]:
        if device not in self.profiles:
            raise DatabaseError(
                f"device {device!r} is not in the profiling database "
                f"(known: {', '.join(self.devices) or 'none'})"
            )
        return self.profiles[device]

    def _unknown_model_message(self, model: str, device: str | None) -> str:
        known = self.models(device)
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        where = f" on {device}" if device else ""
        return f"model {model!r} is not in the profiling database{where} (known: {shown or 'none'})"

    # ---- updates -------------------------------------------------------------------------------
    def add(self, profile: ModelProfile, *, replace: bool = True) -> None:
        profile.validate()
        per_dev = self.profiles.setdefault(profile.device, {})
        if not replace and profile.name in per_dev:
            raise DatabaseError(f"model {profile.name!r} on {profile.device} is already present")
        per_dev[profile.name] = profile

    def merge(self, other: "ProfilingDatabase") -> None:
        for per_dev in other.profiles.values():
            for profile in per_dev.values():
                self.add(profile)

    def validate(self) -> None:
        for per_dev in self.profiles.values():
            for profile in per_dev.values():
                profile.validate()

    def require(
        self,
        models=None,
        configs=(),
        batch_sizes=(),
        device: str | None = None,
    ) -> None:
        """Raise DatabaseError listing every gap if a model, config or batch size is missing.

        Checks each listed model (all models when None; on ``device``, or on every device holding
        it) for each listed ParallelConfig (all its configs when empty) and batch size; used by
        ``db validate --models/--configs/--batch-sizes``.
        """
        devices = [device] if device is not None else self.devices
        gaps = []
        for model in self.models(device) if models is None else models:
            holders = [d for d in devices if model in self._device(d)]
            if not holders:
                gaps.append(self._unknown_model_message(model, device))
            for dev in holders:
                profile = self.profiles[dev][model]
                for config in configs or sorted(profile.configs):
                    entry = profile.configs.get(config)
                    if entry is None:
                        gaps.append(f"model {model!r} on {dev}: no profile for {config.key}")
                        continue
                    missing = [b for b in batch_sizes if b not in entry.stage_latency_s]
                    if missing:
                        gaps.append(
                            f"model {model!r} on {dev} {config.key}: no batch size {missing} "
                            f"(profiled: {list(entry.batch_sizes)})"
                        )
        if gaps:
            shown = gaps[:20] + ([f"... and {len(gaps) - 20} more"] if len(gaps) > 20 else [])
            raise DatabaseError("database is incomplete:\n  " + "\n  ".join(shown))

    # ---- plain-data conversion -----------------------------------------------------------------
    def to_plain(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "devices": {
                device: {name: _profile_to_plain(p) for name, p in sorted(per_dev.items())}
                for device, per_dev in sorted(self.profiles.items())
            },
        }

    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the plain content (canonical JSON), so two files holding the same
        profiles match whatever their pickle bytes; a plan records it to tell which database made it."""
        text = json.dumps(self.to_plain(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_plain(cls, data: object, where: str = "database") -> "ProfilingDatabase":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DatabaseError(
                f"{where}: not an alpa_serve_like profiling database (expected a dict with "
                f"format={FORMAT!r}); for AlpaServe's original format use "
                f"'alpa-serve-like db import-legacy'"
            )
        if data.get("version") != VERSION:
            raise DatabaseError(
                f"{where}: database version {data.get('version')!r} is not supported (expected {VERSION})"
            )
        db = cls()
        devices = data.get("devices")
        if not isinstance(devices, dict):
            raise DatabaseError(f"{where}: 'devices' must be a dict")
        for device, per_dev in devices.items():
            if not isinstance(per_dev, dict):
                raise DatabaseError(f"{where}: devices[{device!r}] must be a dict of models")
            for name, plain in per_dev.items():
                try:
                    db.add(_profile_from_plain(name, device, plain))
                except (ProfileError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise DatabaseError(f"{where}: model {name!r} on {device}: {exc}") from exc
        return db

    # ---- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write atomically (a crash never leaves a half-written database)."""
        path = Path(path)
        self.validate()
        if not path.parent.is_dir():  # else mkstemp's error would name the temporary file
            raise DatabaseError(f"cannot write profiling database {str(path)!r}: folder {str(path.parent)!r} "
                                f"does not exist; create it first")
        payload = pickle.dumps(self.to_plain(), protocol=4)
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ProfilingDatabase":
        data = restricted_loads(read_database_file(path), where=str(path))
        return cls.from_plain(data, where=str(path))


def imported_profile(name: str, device: str, configs: dict, source: str, where: str) -> ModelProfile:
    """A spec-less profile read from a foreign format, validated; errors name ``where``.

    Shared by the legacy-pickle and benchmark-TSV importers so both report problems alike.
    """
    profile = ModelProfile(name=name, device=device, configs=configs, spec=None, source=source)
    try:
        profile.validate()
    except ProfileError as exc:
        raise DatabaseError(f"{where}: {exc}") from None
    return profile


def _ours_only(module: str) -> str:
    return ("a profiling database holds only builtin containers, numbers and strings, so this file was "
            "not written by alpa_serve_like (it may be unsafe to unpickle). For AlpaServe's original "
            "format use 'alpa-serve-like db import-legacy'.")


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``allowed`` (each to an inert stand-in); refuses every other."""

    def __init__(self, file, where: str, allowed: Mapping, rename: Mapping[str, str], refusal):
        super().__init__(file)
        self._where, self._allowed, self._rename, self._refusal = where, allowed, rename, refusal

    def find_class(self, module: str, name: str):
        module = self._rename.get(module, module)
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        raise DatabaseError(f"{self._where}: refusing to load class {module}.{name}: {self._refusal(module)}")


def read_database_file(path: str | os.PathLike) -> bytes:
    """The raw bytes of a database file (ours or AlpaServe's); never unpickles anything."""
    path = Path(path)
    if not path.exists():
        raise DatabaseError(
            f"profiling database {str(path)!r} does not exist; generate one with "
            f"'alpa-serve-like profile --out {path}'"
        )
    if path.is_dir():
        raise DatabaseError(f"profiling database {str(path)!r} is a directory, not a file")
    return path.read_bytes()


def restricted_loads(
    payload: bytes,
    where: str = "database",
    allowed: Mapping[tuple[str, str], object] | None = None,
    rename: Mapping[str, str] | None = None,
    refusal: Callable[[str], str] = _ours_only,
    expected: str = "a profiling database (from 'alpa-serve-like profile')",
) -> object:
    """Unpickle ``payload`` resolving only the ``(module, name)`` globals in ``allowed`` (none by
    default: our own databases hold builtin containers, numbers and strings only). ``rename`` maps
    old module names first (Python 2 pickles); ``refusal(module)`` says why any other global is
    refused. Every failure is a DatabaseError that starts with ``where``."""
    unpickler = _RestrictedUnpickler(io.BytesIO(payload), where, allowed or {}, rename or {}, refusal)
    try:
        return unpickler.load()
    except DatabaseError as exc:  # a stand-in may refuse a value without knowing the file
        message = str(exc)
        raise DatabaseError(message if message.startswith(where) else f"{where}: {message}") from None
    except Exception as exc:  # truncated or corrupt pickles raise a zoo of exception types
        reason = " ".join(str(exc).split())  # some pickle errors span lines; a message is one line
        raise DatabaseError(f"{where}: not a readable pickle ({type(exc).__name__}: {reason}); "
                            f"expected {expected}") from exc


def _profile_to_plain(profile: ModelProfile) -> dict:
    return {
        "source": profile.source,
        "spec": profile.spec.to_dict() if profile.spec else None,
        "configs": {
            config.key: {
                "weight_bytes": [int(w) for w in entry.weight_bytes],
                "latency_s": {int(b): [float(x) for x in lat] for b, lat in entry.stage_latency_s.items()},
                "act_bytes": {int(b): [int(x) for x in acts] for b, acts in entry.act_bytes.items()},
            }
            for config, entry in sorted(profile.configs.items())
        },
    }


def _profile_from_plain(name: str, device: str, plain: dict) -> ModelProfile:
    if not isinstance(plain, dict) or not isinstance(plain.get("configs"), dict):
        raise ProfileError("expected a dict with a 'configs' dict")
    configs = {}
    for key, entry in plain["configs"].items():
        config = ParallelConfig.from_key(key)
        if not isinstance(entry, dict):
            raise ProfileError(f"{key}: expected a dict with 'latency_s', 'weight_bytes' and 'act_bytes'")
        missing = [f for f in ("latency_s", "weight_bytes") if f not in entry]
        if missing:
            raise ProfileError(f"{key}: missing field {missing[0]!r}")
        configs[config] = ConfigProfile(
            config=config,
            stage_latency_s={int(b): _numbers(lat, "latency_s", b, key) for b, lat in _items(entry["latency_s"], "latency_s", key)},
            weight_bytes=_numbers(entry["weight_bytes"], "weight_bytes", None, key),
            act_bytes={int(b): _numbers(a, "act_bytes", b, key) for b, a in _items(entry.get("act_bytes", {}), "act_bytes", key)},
        )
    spec = ModelSpec.from_dict(plain["spec"]) if plain.get("spec") else None
    return ModelProfile(name=name, device=device, configs=configs, spec=spec, source=plain.get("source", "unknown"))


def _items(value, field: str, key: str):
    """The (batch, list) pairs of a per-batch field, which must be a dict."""
    if not isinstance(value, dict):
        raise ProfileError(f"{key}: {field!r} must be a dict of batch size -> list, got {type(value).__name__}")
    return value.items()


def _numbers(value, field: str, batch, key: str) -> tuple:
    """``value`` as a tuple if it is a list or tuple (a string would split into characters)."""
    if not isinstance(value, (list, tuple)):
        of = f" of batch {batch}" if batch is not None else ""
        raise ProfileError(f"{key}: {field!r}{of} must be a list of numbers, got {value!r:.40}")
    return tuple(value)


def default_database_path() -> Path:
    """``$ALPA_SERVE_LIKE_DB``, else ``./profiling_result.pkl``, else the shipped database.

    The shipped database is the repository root's ``profiling_result.pkl`` (the one copy in the
    tree); ``setup.py`` copies it into ``alpa_serve_like/data/`` of a built (non-editable) install,
    while a source checkout or an editable install reads the root file itself.
    """
    env = os.environ.get("ALPA_SERVE_LIKE_DB")
    if env:
        return Path(env)
    local = Path.cwd() / DEFAULT_DB_NAME
    if local.exists():
        return local
    package = Path(__file__).resolve().parents[1]
    installed = package / "data" / DEFAULT_DB_NAME
    return installed if installed.exists() else package.parent / DEFAULT_DB_NAME
