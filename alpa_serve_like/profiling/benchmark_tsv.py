"""Import of Alpa's tab-separated inference benchmark results (what AlpaServe's database was built from).

One row per (model, parallel config, batch size)::

    ModelName  BS  #Microbatch  DP  OP  PP  #GPU  MeanTime(s)  StdTime(s)  TFLOPs
    StageWeights(B)  StagePeakMem(B)  StageLatencies(s)

The last three hold one value per pipeline stage, written as a list: ``[0.0123, 0.0125]`` or numpy's
``[0.0123 0.0125]``. They are split into tokens and read with ``float()``, never evaluated. A header
row (a line with a ``ModelName`` cell) is optional; with one, columns are found by name and extra columns are
ignored (it may be repeated, as appending runs do); without one the 13 columns above are expected in
order. As in AlpaServe: activation memory = StagePeakMem - StageWeights (clipped at 0 here), a
repeated (model, config, batch) row replaces the earlier one, and a config keeps the weights of its
first row.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, imported_profile

COLUMNS = (
    "ModelName", "BS", "#Microbatch", "DP", "OP", "PP", "#GPU", "MeanTime(s)", "StdTime(s)", "TFLOPs",
    "StageWeights(B)", "StagePeakMem(B)", "StageLatencies(s)",
)
_USED = ("ModelName", "BS", "DP", "OP", "PP", "StageWeights(B)", "StagePeakMem(B)", "StageLatencies(s)")

SOURCE = "benchmark-tsv"


class _Row:
    """One data line, with errors that name the file, line and column."""

    def __init__(self, cells: list[str], index: dict[str, int], where: str):
        self.cells, self.index, self.where = cells, index, where

    def error(self, column: str | None, message: str) -> DatabaseError:
        col = f" column {column}" if column else ""
        return DatabaseError(f"{self.where}{col}: {message}")

    def text(self, column: str) -> str:
        return self.cells[self.index[column]].strip()

    def positive_int(self, column: str) -> int:
        raw = self.text(column)
        try:
            value = int(raw)
        except ValueError:
            raise self.error(column, f"expected int, got {raw!r}") from None
        if value < 1:
            raise self.error(column, f"expected a positive int, got {value}")
        return value

    def stage_list(self, column: str, pp: int) -> list[float]:
        raw = self.text(column)
        inner = raw[1:-1] if raw[:1] in "[(" and raw[-1:] in "])" else raw
        tokens = inner.replace(",", " ").split()
        values = []
        for token in tokens:
            try:
                value = float(token)
            except ValueError:
                raise self.error(column, f"expected a list of numbers, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise self.error(column, f"expected finite values >= 0, got {token!r}")
            values.append(value)
        if len(values) != pp:
            raise self.error(column, f"{len(values)} stage values but PP={pp}")
        return values


def _header_index(cells: list[str], where: str) -> dict[str, int]:
    names = [c.strip() for c in cells]
    missing = [c for c in _USED if c not in names]
    if missing:
        raise DatabaseError(f"{where}: header lacks column(s) {', '.join(missing)} (has: {', '.join(names)})")
    return {name: names.index(name) for name in _USED}


def parse_benchmark_tsv(text: str, device: str, where: str = "benchmark.tsv") -> list[ModelProfile]:
    """ModelProfiles (source "benchmark-tsv", no spec) from the text of a benchmark TSV file."""
    index = {name: i for i, name in enumerate(COLUMNS)}
    width = len(COLUMNS)
    # model -> config -> {"weights": [...], "latency": {batch: [...]}, "act": {batch: [...]}}
    tables: dict[str, dict[ParallelConfig, dict]] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.rstrip("\r\n").split("\t")
        line_where = f"{where} line {line_no}"
        if "ModelName" in (c.strip() for c in cells):
            index, width = _header_index(cells, line_where), len(cells)
            continue
        if len(cells) != width:
            raise DatabaseError(f"{line_where}: expected {width} columns, found {len(cells)}")
        row = _Row(cells, index, line_where)
        model = row.text("ModelName")
        if not model:
            raise row.error("ModelName", "empty model name")
        batch = row.positive_int("BS")
        config = ParallelConfig(row.positive_int("DP"), row.positive_int("OP"), row.positive_int("PP"))
        weights = row.stage_list("StageWeights(B)", config.pp)
        peaks = row.stage_list("StagePeakMem(B)", config.pp)
        latency = row.stage_list("StageLatencies(s)", config.pp)
        entry = tables.setdefault(model, {}).setdefault(
            config, {"weights": [int(round(w)) for w in weights], "latency": {}, "act": {}}
        )
        entry["latency"][batch] = tuple(latency)
        entry["act"][batch] = tuple(int(round(max(0.0, p - w))) for p, w in zip(peaks, weights))
    if not tables:
        raise DatabaseError(f"{where}: no benchmark rows found")
    profiles = []
    for model, per_config in tables.items():
        configs = {
            config: ConfigProfile(
                config=config,
                stage_latency_s=entry["latency"],
                weight_bytes=tuple(entry["weights"]),
                act_bytes=entry["act"],
            )
            for config, entry in per_config.items()
        }
        profiles.append(imported_profile(model, device, configs, SOURCE, where))
    return profiles


def import_benchmark_tsv(path: str | os.PathLike, device: str) -> ProfilingDatabase:
    """Read a benchmark TSV file and file its models under ``device``."""
    path = Path(path)
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise DatabaseError(f"benchmark file {str(path)!r} {state}; expected Alpa's benchmark TSV")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatabaseError(f"{path}: not a UTF-8 text file ({exc})") from None
    db = ProfilingDatabase()
    for profile in parse_benchmark_tsv(text, device, where=str(path)):
        db.add(profile)
    return db
