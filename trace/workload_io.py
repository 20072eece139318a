"""Save and load workloads as ``.npz``: one array per field, names and meta as JSON text.

Loading uses ``allow_pickle=False``, so a workload file cannot run code. ``kind`` tells a workload
file from the trace caches that ``trace convert`` writes (see ``trace_cache``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from alpa_serve_like.core.workload import Workload, WorkloadError
from alpa_serve_like.trace.npz_file import header, meta_of, read_npz, vector, write_npz

WORKLOAD_KIND = "alpa_serve_like.workload"
FORMAT_VERSION = 1


def save_workload(w: Workload, path: str | os.PathLike) -> Path:
    """Write ``w`` to ``path`` (``.npz`` is appended if missing); returns the path written."""
    arrays = {"arrival_s": w.arrival_s, "model_id": w.model_id, "slo_s": w.slo_s,
              "model_names_json": np.array(json.dumps(list(w.model_names)))}
    if w.size is not None:
        arrays["size"] = w.size
    if w.output_size is not None:
        arrays["output_size"] = w.output_size
    return write_npz(path, WORKLOAD_KIND, FORMAT_VERSION, arrays, w.meta)


WHAT = "a workload .npz (from 'alpa-serve-like trace generate', 'build' or 'convert --llm')"


def load_workload(path: str | os.PathLike) -> Workload:
    """Read a workload written by ``save_workload``; a bad file raises ``WorkloadError`` naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"workload file {path} does not exist (make one with 'alpa-serve-like trace generate')")
    arrays = read_npz(path, WHAT, WorkloadError)
    kind, version = header(arrays, path, WHAT, WorkloadError)
    if kind != WORKLOAD_KIND:
        hint = ("trace caches turn into workloads with 'alpa-serve-like trace build'" if "cache" in kind
                else f"expected {WHAT}")
        raise WorkloadError(f"{path} is not a workload file (kind {kind!r}); {hint}")
    if version > FORMAT_VERSION:
        raise WorkloadError(f"{path} has workload format {version}; this version reads up to "
                            f"{FORMAT_VERSION}: upgrade alpa_serve_like")
    meta = meta_of(arrays, path, WorkloadError)
    meta["path"] = str(path)
    fields = {name: vector(arrays, name, kinds, path, WorkloadError, required=name in ("arrival_s", "model_id", "slo_s"))
              for name, kinds in (("arrival_s", "iuf"), ("model_id", "iu"), ("slo_s", "iuf"), ("size", "iu"),
                                  ("output_size", "iu"))}
    try:
        return Workload(fields["arrival_s"], fields["model_id"], fields["slo_s"], _model_names(arrays, path),
                        fields["size"], meta, fields["output_size"])
    except WorkloadError as exc:  # the value's own checks say "workload: ..."; name the file instead
        raise WorkloadError(f"{path}: {str(exc).removeprefix('workload: ')}") from None


def _model_names(arrays, path) -> tuple[str, ...]:
    text = arrays.get("model_names_json")
    try:
        names = json.loads(str(text)) if text is not None and text.ndim == 0 else None
    except (ValueError, RecursionError):
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise WorkloadError(f"{path}: 'model_names_json' must be a JSON list of model names as one string")
    return tuple(names)
