"""The ``.npz`` files this package writes (workloads, trace caches): arrays plus kind, version, meta.

Every file holds a ``kind`` string (what it is), a ``format_version`` and ``meta_json`` (a JSON
object as text) beside its arrays. Files are read with ``allow_pickle=False``, so none can run code.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np


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


def stored_kind(z) -> str:
    """The ``kind`` of an open npz ("?" for a file not written by this package)."""
    return str(z["kind"]) if "kind" in z.files else "?"


def stored_meta(z) -> dict:
    return json.loads(str(z["meta_json"]))
