"""``alpa-serve-like db``: list, show, validate, import and merge profiling databases.

Every subcommand reads and writes through ``ProfilingDatabase`` (the only reader/writer of the
``.pkl`` format); AlpaServe's original pickle and Alpa's benchmark TSV come in through
``profiling.legacy`` and ``profiling.benchmark_tsv``. Errors are printed as one message and give
exit status 2.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

HELP = "list, show, validate, import or merge profiling databases"

_DB_HELP = "profiling database (default: $ALPA_SERVE_LIKE_DB, else ./profiling_result.pkl, else the shipped copy)"

_EPILOG = """examples:
  alpa-serve-like db list profiling_result.pkl
  alpa-serve-like db show bert-6.7b --device v100-16gb --batch 1
  alpa-serve-like db validate profiling_result.pkl --models bert-1.3b,bert-2.6b --batch-sizes 1,2,4
  alpa-serve-like db import-legacy alpa_serve_profiling_result.pkl --device v100-16gb --out mine.pkl
  alpa-serve-like db import-tsv inference_prof_res.tsv --device v100-16gb --out mine.pkl --merge
  alpa-serve-like db merge analytic.pkl measured.pkl --out both.pkl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.cli import common_args as common

    parser.epilog = _EPILOG
    sub = parser.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=parser.formatter_class)

    p = sub.add_parser("list", help="models per device: #configs, batch sizes, source, parameters")
    p.add_argument("path", nargs="?", default=None, metavar="PATH", help=_DB_HELP)

    p = sub.add_parser("show", help="per-config latency and memory table of one model")
    p.add_argument("model", metavar="MODEL", help="model name, e.g. bert-6.7b")
    p.add_argument("--db", default=None, metavar="PATH", help=_DB_HELP)
    p.add_argument("--device", default=None, help="device type (default: every device that has MODEL)")
    p.add_argument("--batch", type=int, default=1, metavar="B", help="batch size (default 1)")
    p.add_argument("--memory-budget-gib", type=common.positive_gib, default=None, metavar="GIB",
                   help="also mark configs whose peak memory per device exceeds this budget")

    p = sub.add_parser("validate", help="load and check a database; optionally require coverage",
                       description="Load PATH through the restricted unpickler and check every entry "
                                   "(stage counts match pp, no negative/NaN/inf values). With --models, "
                                   "--configs or --batch-sizes also require those entries to exist.")
    p.add_argument("path", nargs="?", default=None, metavar="PATH", help=_DB_HELP)
    p.add_argument("--device", default=None, help="check coverage on this device only")
    p.add_argument("--models", default=None, help="comma-separated models that must be present")
    p.add_argument("--configs", default=None, help="comma-separated configs that must be present, e.g. dp1_op1_pp1,dp1_op2_pp4")
    p.add_argument("--batch-sizes", default=None, help="comma-separated batch sizes every config must have")

    p = sub.add_parser("import-legacy", help="convert AlpaServe's original profiling_result.pkl",
                       description="Convert a pickle of alpa_serve.profiling ProfilingResult objects (as written "
                                   "by AlpaServe's gen_serving_database.py) without importing alpa_serve or "
                                   "running code from the file. Only the whitelisted record classes are "
                                   "accepted; anything else is refused.")
    _add_import_arguments(p, "IN.pkl", "AlpaServe database pickle")

    p = sub.add_parser("import-tsv", help="convert Alpa's tab-separated benchmark results",
                       description="Convert a TSV with columns ModelName, BS, #Microbatch, DP, OP, PP, #GPU, "
                                   "MeanTime(s), StdTime(s), TFLOPs, StageWeights(B), StagePeakMem(B), "
                                   "StageLatencies(s) (header row optional).")
    _add_import_arguments(p, "IN.tsv", "benchmark TSV file")

    p = sub.add_parser("merge", help="merge databases; later inputs win on conflicts")
    p.add_argument("inputs", nargs="+", metavar="DB", help="two or more databases, merged left to right")
    p.add_argument("--out", required=True, help="where to write the merged database")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists and is not an input")


def _add_import_arguments(p: argparse.ArgumentParser, metavar: str, what: str) -> None:
    p.add_argument("input", metavar=metavar, help=what)
    p.add_argument("--device", default="v100-16gb", help="device type to file the models under (default v100-16gb)")
    p.add_argument("--out", required=True, help="database to write")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--merge", action="store_true", help="add to --out if it exists (imported models replace same-named ones)")
    mode.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    from alpa_serve_like.cli.errors import report
    from alpa_serve_like.core.model_profile import ProfileError
    from alpa_serve_like.profiling.database import DatabaseError

    handler = {
        "list": _list, "show": _show, "validate": _validate, "import-legacy": _import,
        "import-tsv": _import, "merge": _merge,
    }[args.db_command]
    try:
        return handler(args)
    except (DatabaseError, ProfileError, OSError) as exc:
        return report(f"alpa-serve-like db {args.db_command}: error", exc)


# ---- helpers -----------------------------------------------------------------------------------
def _path(path) -> Path:
    from alpa_serve_like.profiling.database import default_database_path

    return Path(path) if path else default_database_path()


def _csv(text: str | None, convert=str) -> list:
    from alpa_serve_like.profiling.database import DatabaseError

    if not text:
        return []
    try:
        return [convert(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise DatabaseError(f"bad list {text!r}: {exc}") from None


def _params(spec) -> str:
    if spec is None:
        return "-"
    n = spec.num_params
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 1024**3:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    return "\n".join(line.rstrip() for line in lines)


# ---- subcommands -------------------------------------------------------------------------------
def _list(args) -> int:
    from alpa_serve_like.profiling.database import ProfilingDatabase

    path = _path(args.path)
    db = ProfilingDatabase.load(path)
    print(f"profiling database {path}: {len(db.models())} models on {len(db.devices)} devices")
    for device in db.devices:
        rows = []
        for name, profile in sorted(db.for_device(device).items()):
            batches = sorted({b for e in profile.configs.values() for b in e.batch_sizes})
            rows.append([name, str(len(profile.configs)), ",".join(map(str, batches)), profile.source,
                         _params(profile.spec)])
        print(f"\n{device}:")
        print(_table(["model", "configs", "batch sizes", "source", "params"], rows))
    return 0


def _show(args) -> int:
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase

    path = _path(args.db)
    db = ProfilingDatabase.load(path)
    devices = [args.device] if args.device else [d for d in db.devices if args.model in db.for_device(d)]
    if not devices:
        db.get(args.model)  # raises the "not in the database (known: ...)" error
    budget = args.memory_budget_gib * 1024**3 if args.memory_budget_gib else None
    for i, device in enumerate(devices):
        profile = db.get(args.model, device)
        entries = [(c, e) for c, e in sorted(profile.configs.items()) if args.batch in e.stage_latency_s]
        if not entries:
            profiled = sorted({b for e in profile.configs.values() for b in e.batch_sizes})
            raise DatabaseError(f"model {args.model!r} on {device}: no config has batch size {args.batch} "
                                f"(profiled: {profiled})")
        header = ["config", "stages", "devices", "total_ms", "max_stage_ms", "weight/dev_GiB", "peak/dev_GiB"]
        rows = []
        for config, entry in entries:
            peak = entry.device_memory_bytes(args.batch)
            row = [config.key, str(config.pp), str(config.num_devices),
                   f"{entry.total_latency_s(args.batch) * 1e3:.2f}",
                   f"{entry.max_stage_latency_s(args.batch) * 1e3:.2f}",
                   _gib(max(entry.weight_bytes)), _gib(peak)]
            if budget is not None:
                row.append("yes" if peak <= budget else "no")
            rows.append(row)
        if budget is not None:
            header.append(f"fits_{args.memory_budget_gib:g}GiB")
        skipped = len(profile.configs) - len(entries)
        print(("\n" if i else "") + f"{args.model} on {device} (source {profile.source}, "
              f"params {_params(profile.spec)}), batch {args.batch}"
              + (f"; {skipped} configs lack this batch size" if skipped else ""))
        print(_table(header, rows))
    return 0


def _validate(args) -> int:
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.profiling.database import ProfilingDatabase

    path = _path(args.path)
    db = ProfilingDatabase.load(path)  # loading checks every entry
    models = _csv(args.models) or None
    configs = _csv(args.configs, ParallelConfig.from_key)
    batch_sizes = _csv(args.batch_sizes, int)
    if args.device is not None:
        db.for_device(args.device)  # unknown device: error listing the known ones
    if models or configs or batch_sizes:
        db.require(models=models, configs=configs, batch_sizes=batch_sizes, device=args.device)
    n_entries = sum(len(p.configs) for per_dev in db.profiles.values() for p in per_dev.values())
    print(f"{path}: OK: {len(db.models())} models, {n_entries} (model, device, config) entries on "
          f"{len(db.devices)} devices ({', '.join(db.devices)})")
    return 0


def _import(args) -> int:
    from alpa_serve_like.core.hardware import BUILTIN_DEVICES
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase

    out = Path(args.out)
    if out.exists() and not (args.merge or args.overwrite):
        raise DatabaseError(f"{out} already exists; pass --merge to add to it or --overwrite to replace it")
    if args.device not in BUILTIN_DEVICES:
        print(f"note: device {args.device!r} is not a built-in device type ({', '.join(BUILTIN_DEVICES)})",
              file=sys.stderr)
    if args.db_command == "import-legacy":
        from alpa_serve_like.profiling.legacy import import_legacy_database

        imported = import_legacy_database(args.input, device=args.device)
    else:
        from alpa_serve_like.profiling.benchmark_tsv import import_benchmark_tsv

        imported = import_benchmark_tsv(args.input, device=args.device)
    db = ProfilingDatabase.load(out) if args.merge and out.exists() else ProfilingDatabase()
    replaced = [m for m in imported.models(args.device) if m in db.profiles.get(args.device, {})]
    db.merge(imported)
    db.save(out)
    for name, profile in sorted(imported.for_device(args.device).items()):
        print(f"imported {name} on {args.device}: {len(profile.configs)} configs"
              + (" (replaced the existing entry)" if name in replaced else ""))
    print(f"wrote {out}: {len(db.models())} models on {len(db.devices)} devices")
    return 0


def _merge(args) -> int:
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase

    if len(args.inputs) < 2:
        raise DatabaseError("merge needs at least two databases")
    out = Path(args.out)
    inputs = [Path(p) for p in args.inputs]
    if out.exists() and not args.overwrite and not any(out.resolve() == p.resolve() for p in inputs):
        raise DatabaseError(f"{out} already exists; pass --overwrite to replace it")
    merged = ProfilingDatabase()
    for path in inputs:
        db = ProfilingDatabase.load(path)
        for device in db.devices:
            for name in db.models(device):
                if name in merged.profiles.get(device, {}):
                    print(f"{name} on {device}: taken from {path} (replaces an earlier input)")
        merged.merge(db)
    merged.save(out)
    print(f"wrote {out}: {len(merged.models())} models on {len(merged.devices)} devices")
    return 0
