"""Loader of the Azure LLM inference trace 2023 (Patel et al., "Splitwise", ISCA 2024; CC-BY).

Files ``AzureLLMInferenceTrace_{conv,code}.csv`` with columns ``TIMESTAMP`` (wall clock, e.g.
``2023-11-16 18:15:46.6805900``), ``ContextTokens``, ``GeneratedTokens``. Real timestamps are
replayed as arrivals: times are seconds after the earliest request of all files loaded together
(one clock, so the services stay aligned), optionally cut to a window and divided by
``time_compression``. Each request keeps ``ContextTokens`` as ``size`` and ``GeneratedTokens`` as
``output_size``. Models are either one per file ("by_file": "conv", "code") or ``num_buckets``
buckets of context length ("token_buckets": equal-count quantile buckets over all requests, or the
given ``bucket_edges``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from alpa_serve_like.trace.csv_reader import BadRows, TraceFormatError, read_blocks
from alpa_serve_like.core.workload import Workload, slo_per_model_array

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")

CHECKS = (
    ("token counts >= 0",
     lambda df: (df["ContextTokens"].to_numpy() >= 0) & (df["GeneratedTokens"].to_numpy() >= 0),
     lambda df, i: f"ContextTokens={df['ContextTokens'].iloc[i]} GeneratedTokens={df['GeneratedTokens'].iloc[i]}"),
)


@dataclass(frozen=True, eq=False)
class LLMRequests:
    """The parsed rows of one file, in file order."""

    name: str
    timestamp_ns: np.ndarray  # int64, nanoseconds since the Unix epoch
    context_tokens: np.ndarray  # int32
    generated_tokens: np.ndarray  # int32
    bad_rows: int = 0


def service_name(path: str | os.PathLike) -> str:
    """"conv" for AzureLLMInferenceTrace_conv.csv; otherwise the file stem."""
    stem = Path(path).stem
    return stem.split("_", 1)[1] if stem.startswith("AzureLLMInferenceTrace_") else stem


def read_llm_csv(path: str | os.PathLike, *, skip_bad_rows: bool = False) -> LLMRequests:
    """Parse one trace file; a bad row raises ``TraceFormatError`` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LLM trace file {path} does not exist")
    bad = BadRows()
    ts, ctx, gen = [], [], []
    for df, lines in read_blocks(path, COLUMNS, {"ContextTokens": np.int32, "GeneratedTokens": np.int32},
                                 skip_bad_rows=skip_bad_rows, bad=bad, checks=CHECKS):
        # utc=True puts stamps with offsets (even mixed ones) on one clock; the trace's own
        # stamps carry none and are read as they are
        stamp = pd.to_datetime(df["TIMESTAMP"].str.strip(), format="ISO8601", errors="coerce", utc=True)
        stamp_ns = stamp.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
        ok = ~stamp.isna().to_numpy()
        if not ok.all():
            idx = np.flatnonzero(~ok)
            msgs = [f"{path.name} line {lines[i]}: expected a TIMESTAMP like 2023-11-16 18:15:46.6805900, "
                    f"found {df['TIMESTAMP'].iloc[i]!r}" for i in idx[:10]]
            if not skip_bad_rows:
                raise TraceFormatError(msgs[0])
            bad.add(msgs, count=len(idx))
        ts.append(stamp_ns[ok])
        ctx.append(df["ContextTokens"].to_numpy()[ok])
        gen.append(df["GeneratedTokens"].to_numpy()[ok])
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.empty(0, dt)
    return LLMRequests(service_name(path), cat(ts, np.int64), cat(ctx, np.int32), cat(gen, np.int32), bad.count)


def load_azure_llm(
    paths: Sequence[str | os.PathLike],
    *,
    models: Literal["by_file", "token_buckets"] = "by_file",
    num_buckets: int = 4,
    bucket_edges: Sequence[int] | None = None,
    slo_s: float | Mapping[str, float] | Sequence[float] = 1.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    time_compression: float = 1.0,
    skip_bad_rows: bool = False,
) -> Workload:
    """A workload from one or more trace files (see module docstring).

    ``start_s``/``end_s`` select requests by seconds after the earliest request (before compression);
    the result's times start at 0 at ``start_s``. ``bucket_edges`` are context-token boundaries
    (bucket ``k`` holds ``edges[k-1] <= tokens < edges[k]``), overriding ``num_buckets``.
    """
    if not time_compression > 0:
        raise ValueError(f"time_compression must be > 0, got {time_compression}")
    parts = [read_llm_csv(p, skip_bad_rows=skip_bad_rows) for p in paths]
    if not parts:
        raise ValueError("load_azure_llm: give at least one trace file")
    if len({p.name for p in parts}) != len(parts):
        raise ValueError(f"two trace files have the same service name: {[p.name for p in parts]}")
    stamp = np.concatenate([p.timestamp_ns for p in parts])
    if len(stamp) == 0:
        raise ValueError(f"the trace files {[str(p) for p in paths]} hold no requests")
    origin_ns = int(stamp.min())
    t = (stamp - origin_ns) / 1e9
    ctx = np.concatenate([p.context_tokens for p in parts])
    gen = np.concatenate([p.generated_tokens for p in parts])
    if models == "by_file":
        names = [p.name for p in parts]
        ids = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p.timestamp_ns) for p in parts])
        edges = None
    elif models == "token_buckets":
        if bucket_edges is not None:
            edges = np.asarray(sorted(set(int(e) for e in bucket_edges)), dtype=np.int64)
        else:
            if num_buckets < 1:
                raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
            edges = np.unique(np.quantile(ctx, np.arange(1, num_buckets) / num_buckets, method="lower").astype(np.int64) + 1)
        ids = np.searchsorted(edges, ctx, side="right").astype(np.int32)
        bounds = np.concatenate([[0], edges, [-1]])
        names = [f"tokens-{bounds[k]}-{bounds[k + 1] - 1}" if bounds[k + 1] > 0 else f"tokens-{bounds[k]}+"
                 for k in range(len(edges) + 1)]
    else:
        raise ValueError(f"unknown model split {models!r} (known: by_file, token_buckets)")
    end = np.inf if end_s is None else float(end_s)
    keep = (t >= start_s) & (t < end)
    order = np.flatnonzero(keep)[np.argsort(t[keep], kind="stable")]
    slo = slo_per_model_array(names, slo_s)
    arrival = (t[order] - start_s) / time_compression
    meta = {
        "name": "azure-llm-2023", "source": "azure_llm_inference_2023", "files": [str(p) for p in paths],
        "origin": str(np.datetime64(origin_ns, "ns")), "models": models, "window_s": [float(start_s), None if end_s is None else float(end)],
        "time_compression": float(time_compression), "bad_rows": int(sum(p.bad_rows for p in parts)),
        "span_s": float(((t.max() if end_s is None else end) - start_s) / time_compression),
    }
    if edges is not None:
        meta["bucket_edges"] = edges.tolist()
    return Workload(arrival, ids[order], slo[ids[order]], tuple(names), ctx[order], meta, gen[order])
