"""The ``.npz`` files this package writes (workloads, trace caches): arrays plus kind, version, meta.

Every file holds a ``kind`` string (what it is), a ``format_version`` and ``meta_json`` (a JSON
object as text) beside its arrays. Files are read with ``allow_pickle=False``, so none can run code.
``read_npz`` turns every way a file can be wrong (missing, a directory, empty, a ``.npy``, truncated,
an array of the wrong shape or type) into one error of the caller's class naming the file and what
was expected.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with entries / an empty one
_NPY_MAGIC = b"\x93NUMPY"


def npz_path(path: str | os.PathLike) -> Path:
    """``path`` with ``.npz`` appended unless it has it (numpy would append it anyway)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"meta value {obj!r} of type {type(obj).__name__} is not JSON-serialisable")


def write_npz(path: str | os.PathLike, kind: str, version: int, arrays: Mapping[str, np.ndarray],
              meta: Mapping, compressed: bool = False) -> Path:
    """Write ``arrays`` with the ``kind``/``format_version``/``meta_json`` header; returns the path."""
    path = npz_path(path)
    header = {"kind": np.array(kind), "format_version": np.array(version),
              "meta_json": np.array(json.dumps(dict(meta), default=_json_default))}
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(path, **header, **arrays)
    return path


def _checked(path, what: str, error) -> Path:
    """``path`` once its first bytes say it is a zip archive (what an ``.npz`` is)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a directory; expected {what}")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise error(f"{path} is empty; expected {what}")
    if head.startswith(_NPY_MAGIC):
        raise error(f"{path} is a .npy file (one array); expected {what}, an .npz archive of named arrays")
    if not head.startswith(_ZIP_MAGIC):
        raise error(f"{path} is not an .npz archive; expected {what}")
    return path


_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError)
"""What numpy and zipfile raise on a damaged archive (numpy refuses object arrays under
``allow_pickle=False`` with ValueError; a cut-off file fails in zipfile)."""


def _unreadable(path, what: str, error, exc: BaseException) -> Exception:
    return error(f"{path}: damaged or unreadable .npz ({type(exc).__name__}: {exc}); expected {what}")


def peek_kind(path: str | os.PathLike, what: str, error: type[Exception] = ValueError) -> str:
    """The ``kind`` string of the ``.npz`` at ``path`` ("?" when it has none), reading nothing else."""
    path = _checked(path, what, error)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "kind" not in z.files:
                return "?"
            kind = z["kind"]
    except _UNREADABLE as exc:
        raise _unreadable(path, what, error, exc) from None
    if kind.ndim != 0 or kind.dtype.kind not in "US":
        raise error(f"{path}: 'kind' must be one string; expected {what}")
    return str(kind)


def read_npz(path: str | os.PathLike, what: str, error: type[Exception] = ValueError) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, read into memory (the file is closed on return).

    ``what`` says what the file should be ("a workload .npz (from 'alpa-serve-like trace
    generate')"); any failure raises ``error`` naming the path and ``what``.
    """
    path = _checked(path, what, error)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except _UNREADABLE as exc:
        raise _unreadable(path, what, error, exc) from None


def header(arrays: Mapping[str, np.ndarray], path, what: str, error: type[Exception] = ValueError) -> tuple[str, int]:
    """(kind, format_version) of arrays read by ``read_npz``; kind "?" when the file has none."""
    kind = arrays.get("kind")
    if kind is None:
        return "?", 0
    version = arrays.get("format_version")
    if kind.ndim != 0 or kind.dtype.kind not in "US":
        raise error(f"{path}: 'kind' must be one string; expected {what}")
    if version is None or version.ndim != 0 or version.dtype.kind not in "iu":
        raise error(f"{path}: 'format_version' must be one integer; expected {what}")
    return str(kind), int(version)


def meta_of(arrays: Mapping[str, np.ndarray], path, error: type[Exception] = ValueError) -> dict:
    """The ``meta_json`` object of arrays read by ``read_npz`` (empty when absent)."""
    text = arrays.get("meta_json")
    if text is None:
        return {}
    try:
        meta = json.loads(str(text)) if text.ndim == 0 else None
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise error(f"{path}: 'meta_json' must be a JSON object as one string")
    return meta


def vector(arrays: Mapping[str, np.ndarray], name: str, kinds: str, path, error: type[Exception] = ValueError,
           required: bool = True) -> np.ndarray | None:
    """The 1-D array ``name`` whose dtype kind is one of ``kinds`` ("iu": integers, "iuf": numbers,
    "SU": strings); None when absent and not ``required``."""
    a = arrays.get(name)
    if a is None:
        if required:
            raise error(f"{path}: missing array {name!r}")
        return None
    wanted = {"iu": "integers", "iuf": "numbers", "SU": "strings"}.get(kinds, f"dtype kind {kinds}")
    if a.ndim != 1:
        raise error(f"{path}: array {name!r} has shape {a.shape}; expected one dimension of {wanted}")
    if a.dtype.kind not in kinds:
        raise error(f"{path}: array {name!r} holds {a.dtype}; expected {wanted}")
    return a
