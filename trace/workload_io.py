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
from alpa_serve_like.trace.npz_file import stored_kind, stored_meta, write_npz

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


def load_workload(path: str | os.PathLike) -> Workload:
    """Read a workload written by ``save_workload``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"workload file {path} does not exist (make one with 'alpa-serve-like trace generate')")
    try:
        with np.load(path, allow_pickle=False) as z:
            kind = stored_kind(z)
            if kind != WORKLOAD_KIND:
                raise WorkloadError(f"{path} is not a workload file (kind {kind!r}); trace caches turn into "
                                    "workloads with 'alpa-serve-like trace build'")
            version = int(z["format_version"])
            if version > FORMAT_VERSION:
                raise WorkloadError(f"{path} has workload format {version}; this version reads up to "
                                    f"{FORMAT_VERSION}: upgrade alpa_serve_like")
            meta = stored_meta(z)
            meta["path"] = str(path)
            return Workload(
                z["arrival_s"], z["model_id"], z["slo_s"], tuple(json.loads(str(z["model_names_json"]))),
                z["size"] if "size" in z.files else None, meta,
                z["output_size"] if "output_size" in z.files else None,
            )
    except (KeyError, ValueError, OSError) as exc:
        if isinstance(exc, WorkloadError):
            raise
        raise WorkloadError(f"{path}: not a readable workload file ({exc})") from exc
