"""``alpa-serve-like trace``: convert raw traces to caches, inspect files, make workloads.

- ``convert``: raw MAF1 directory / MAF2 file -> trace cache ``.npz``; LLM csv files -> workload ``.npz``.
- ``build``: trace cache -> workload (window, function->model mapping, gamma or exact replay); or a
  workload (e.g. the LLM trace from ``convert --llm``) -> the same requests on ``--models`` (``--map``).
- ``generate``: synthetic workload -> ``.npz``.
- ``info FILE``: summary of a workload (per-model rate and CV table) or of a trace cache.
"""
from __future__ import annotations

import argparse
import functools
import time

import numpy as np

from alpa_serve_like.cli.common_args import seed as seed_type

HELP = "convert, inspect and generate workloads from real traces"

from alpa_serve_like.trace.model_mapping import MAP_HELP  # noqa: E402  (light: numpy only)


def _parse_days(text: str | None) -> list[int] | None:
    """"1-3,7" -> [1, 2, 3, 7]."""
    if not text:
        return None
    days: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            days.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise ValueError(f"--days {text!r}: expected day numbers and ranges such as 1-3,7") from None
    return days


def _parse_slo(text: str):
    """"0.5" -> 0.5; "a=0.5,b=1" -> {"a": 0.5, "b": 1.0} (seconds: the hidden old ``--slo``)."""
    if "=" not in text:
        return float(text)
    return {k.strip(): float(v) for k, v in (item.split("=", 1) for item in text.split(","))}


DEFAULT_SLO_DEVICE = "v100-16gb"
"""Device whose latencies ``--slo-scale`` multiplies unless ``--device`` says otherwise."""


def _add_slo(parser, with_scale: bool = False) -> None:
    """``--slo-ms`` (and for zoo models ``--slo-scale`` with ``--device``/``--db``); ``--slo`` in
    seconds still works, hidden."""
    from alpa_serve_like.cli import common_args as common

    parser.add_argument("--slo-ms", default=None, metavar="MS",
                        help="SLO in milliseconds, one number or MODEL=MS,... (default: 1000)")
    parser.add_argument("--slo", default=None, help=argparse.SUPPRESS)
    if with_scale:
        common.add_slo_scale(parser, default=None)
        parser.add_argument("--device", default=DEFAULT_SLO_DEVICE, metavar="TYPE",
                            help="with --slo-scale: " + common.DEVICE_HELP)
        common.add_db(parser)


def _slo_s(args, names):
    """The SLO in seconds the workload gets: --slo-scale (models named BASE-i of the database, the
    same rule as 'place --slo-scale'), else --slo-ms, else the old --slo seconds, else 1 s."""
    if args.slo_ms is not None and args.slo is not None:
        raise ValueError("give --slo-ms or the older --slo (seconds), not both")
    if hasattr(args, "slo_scale"):  # generate; convert and build take --slo-ms only
        _check_scale_flags(args)
    if getattr(args, "slo_scale", None) is not None:
        from alpa_serve_like.core.slo import slo_from_scale
        from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database

        profiles = instance_profiles(names, load_database(args.db or ""), args.device)
        return dict(zip(names, slo_from_scale(names, profiles, args.slo_scale).tolist()))
    if args.slo_ms is not None:
        from alpa_serve_like.core.slo import slo_from_ms

        return slo_from_ms(args.slo_ms)
    return _parse_slo(args.slo) if args.slo is not None else 1.0


def _check_scale_flags(args) -> None:
    """Refuse SLO flags that would be ignored: --slo-ms beside --slo-scale (the scale won), and
    --device/--db without --slo-scale (they only choose the latencies the scale multiplies)."""
    if args.slo_scale is not None:
        if args.slo_ms is not None or args.slo is not None:
            raise ValueError("give --slo-scale or --slo-ms, not both")
        return
    for flag, value, default in (("--device", args.device, DEFAULT_SLO_DEVICE), ("--db", args.db, None)):
        if value != default:
            raise ValueError(f"{flag} applies with --slo-scale (SLO = scale x the model's latency on the "
                             f"device); without it the SLO is --slo-ms")


def _model_names(text: str) -> list[str]:
    """"4" -> model-0..model-3; "a,b" -> [a, b]."""
    text = text.strip()
    return [f"model-{i}" for i in range(int(text))] if text.isdigit() else [m.strip() for m in text.split(",") if m.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trace_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=parser.formatter_class)

    c = sub.add_parser("convert", help="raw trace -> cache (MAF1/MAF2) or workload (LLM) .npz")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--maf1-dir", help="directory of invocations_per_function_md.anon.dNN.csv files")
    src.add_argument("--maf2", help="AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt")
    src.add_argument("--llm", nargs="+", help="AzureLLMInferenceTrace_{conv,code}.csv files")
    c.add_argument("--days", help="MAF1 days to read, e.g. 1-3,7 (default: all files found)")
    c.add_argument("--llm-models", choices=("by_file", "token_buckets"), default="by_file",
                   help="LLM: one model per file, or per context-token bucket")
    c.add_argument("--buckets", type=int, default=4, help="LLM: number of context-token buckets")
    _add_slo(c)
    c.add_argument("--time-compression", type=float, default=1.0, help="LLM: divide times by this")
    c.add_argument("--skip-bad-rows", action="store_true", help="drop malformed rows (counted) instead of failing")
    c.add_argument("--out", required=True, help="output .npz")

    b = sub.add_parser("build", help="trace cache, or a workload such as the LLM trace, -> workload .npz on --models")
    b.add_argument("cache", help="trace cache or workload written by 'trace convert' (MAF1/MAF2 cache, LLM workload)")
    b.add_argument("--models", required=True, help="number of models, or comma-separated names")
    b.add_argument("--day", type=int, default=1, help="trace day the window starts on")
    b.add_argument("--hour", type=float, default=0.0, help="window start: hour of the day")
    b.add_argument("--minute", type=float, default=0.0, help="window start: minute of the hour")
    b.add_argument("--hours", type=float, default=0.0, help="window length (with --minutes); default a day")
    b.add_argument("--minutes", type=float, default=0.0, help="window length (with --hours)")
    b.add_argument("--mode", choices=("gamma", "exact"), default="gamma",
                   help="gamma: arrivals fitted per window; exact: replay the counts")
    b.add_argument("--mapping", choices=("striped", "contiguous"), default="striped",
                   help="how trace functions are assigned to models")
    b.add_argument("--top-n", type=int, default=None, help="use only the N busiest functions")
    b.add_argument("--map", default="round-robin", metavar="HOW",
                   help="workload input (LLM trace): " + MAP_HELP)
    b.add_argument("--rate-scale", type=float, default=1.0, help="multiply the rates by this")
    b.add_argument("--cv-scale", type=float, default=1.0, help="gamma: multiply the fitted CVs by this")
    b.add_argument("--fit-window", type=float, default=3600.0, help="gamma: seconds per fitted window")
    b.add_argument("--time-compression", type=float, default=1.0, help="divide times by this")
    b.add_argument("--spread", choices=("uniform", "even"), default="uniform", help="MAF1 exact replay")
    _add_slo(b)
    b.add_argument("--seed", type=seed_type, default=0, help="random seed")
    b.add_argument("--out", required=True, help="output workload .npz")

    g = sub.add_parser("generate", help="synthetic workload -> .npz")
    g.add_argument("--models", required=True, help="number of models, or comma-separated names")
    g.add_argument("--rate", type=float, required=True, help="total requests per second")
    g.add_argument("--duration", type=float, required=True, help="seconds")
    g.add_argument("--process", choices=("gamma", "poisson", "deterministic", "lognormal", "mmpp"), default="gamma",
                   help="arrival process")
    g.add_argument("--cv", type=float, default=1.0, help="gap coefficient of variation (gamma, lognormal)")
    g.add_argument("--split", choices=("uniform", "power_law", "explicit"), default="uniform",
                   help="how the total rate is split over models")
    g.add_argument("--alpha", type=float, default=1.0, help="power-law exponent")
    g.add_argument("--weights", help="explicit split: comma-separated weights, one per model")
    _add_slo(g, with_scale=True)
    g.add_argument("--seed", type=seed_type, default=0, help="random seed")
    g.add_argument("--out", required=True, help="output workload .npz")

    i = sub.add_parser("info", help="summarise a workload or trace cache .npz")
    i.add_argument("file", help="workload or trace cache .npz")


def _convert(args) -> int:
    from alpa_serve_like.trace import azure_functions
    from alpa_serve_like.trace.workload_io import save_workload

    _check_convert_flags(args)
    tic = time.perf_counter()
    if args.llm:
        from alpa_serve_like.trace.azure_llm import load_azure_llm

        w = load_azure_llm(args.llm, models=args.llm_models, num_buckets=args.buckets, slo_s=_slo_s(args, None),
                           time_compression=args.time_compression, skip_bad_rows=args.skip_bad_rows)
        path = save_workload(w, args.out)
        print(f"wrote {path}: {len(w)} requests, {len(w.model_names)} models, "
              f"span {w.span_s:.1f} s, bad rows skipped {w.meta['bad_rows']} ({time.perf_counter() - tic:.2f} s)")
        return 0
    if args.maf1_dir:
        path, t = azure_functions.convert_maf1(args.maf1_dir, args.out, _parse_days(args.days), args.skip_bad_rows)
    else:
        path, t = azure_functions.convert_maf2(args.maf2, args.out, args.skip_bad_rows)
    print(f"wrote {path}: {t.kind}, {t.num_functions} functions, {t.total_requests()} requests, "
          f"bad rows skipped {t.meta['bad_rows']} ({time.perf_counter() - tic:.2f} s)")
    summed, early = t.meta.get("duplicate_entries_summed", 0), t.meta.get("arrivals_before_start", 0)
    if summed:
        print(f"  {summed} (function, minute) count{'s' if summed > 1 else ''} of repeated key rows summed")
    if early:
        print(f"  {early} request{'s' if early > 1 else ''} began before the trace's clock (kept, negative arrival)")
    for example in t.meta.get("bad_row_examples", []):
        print(f"  {example}")
    return 0


def _check_convert_flags(args) -> None:
    """Refuse a flag the chosen input ignores: a MAF cache holds no SLOs, models or clock to
    compress (the LLM flags), and --days picks MAF1 day files only."""
    if args.days and not args.maf1_dir:
        raise ValueError("--days applies to --maf1-dir (the per-day files); the other traces are one file each")
    if args.llm:
        if args.buckets != 4 and args.llm_models != "token_buckets":
            raise ValueError("--buckets applies to --llm-models token_buckets (the default splits by file)")
        return
    for flag, value, default in (("--slo-ms", args.slo_ms, None), ("--slo", args.slo, None),
                                 ("--time-compression", args.time_compression, 1.0),
                                 ("--llm-models", args.llm_models, "by_file"), ("--buckets", args.buckets, 4)):
        if value != default:
            raise ValueError(f"{flag} applies to --llm; a MAF1/MAF2 cache holds function counts or timestamps, "
                             f"and 'trace build' sets SLOs, models and time compression from it")


def _build_from_workload(args) -> int:
    """A workload input (the LLM trace): cut the window, compress time, map its names onto --models."""
    from alpa_serve_like.core.workload import slo_per_model_array
    from alpa_serve_like.trace.model_mapping import map_models, parse_map
    from alpa_serve_like.trace.workload_io import load_workload, save_workload

    for flag, value, default in (("--mode", args.mode, "gamma"), ("--mapping", args.mapping, "striped"),
                                 ("--top-n", args.top_n, None), ("--rate-scale", args.rate_scale, 1.0),
                                 ("--cv-scale", args.cv_scale, 1.0), ("--fit-window", args.fit_window, 3600.0),
                                 ("--spread", args.spread, "uniform")):
        if value != default:
            raise ValueError(f"{flag} applies to function-trace caches (MAF1/MAF2), not to the workload "
                             f"{args.cache}; use --map, the window flags, --time-compression and --slo-ms")
    w = load_workload(args.cache)
    names = _model_names(args.models)
    lo = (args.day - 1) * 86400.0 + args.hour * 3600.0 + args.minute * 60.0
    length = args.hours * 3600.0 + args.minutes * 60.0
    pick = (w.arrival_s >= lo) & ((w.arrival_s < lo + length) if length > 0 else True)
    if not pick.any():
        raise ValueError(f"the window [{lo:g}, {lo + length if length > 0 else float('inf'):g}) s holds no request "
                         f"of {args.cache} (it spans {w.span_s:.0f} s); choose --day/--hour/--minute inside it")
    cut = lambda a: None if a is None else a[pick]
    from alpa_serve_like.core.workload import Workload

    meta = {k: v for k, v in w.meta.items() if k != "span_s"}
    if length > 0:
        meta["span_s"] = length / args.time_compression
    w = Workload((w.arrival_s[pick] - lo) / args.time_compression, w.model_id[pick], w.slo_s[pick], w.model_names,
                 cut(w.size), meta, cut(w.output_size))
    mapped = map_models(w, names, parse_map(args.map))
    if args.slo_ms is not None or args.slo is not None:
        slo = slo_per_model_array(names, _slo_s(args, names))
        mapped = Workload(mapped.arrival_s, mapped.model_id, slo[mapped.model_id], mapped.model_names,
                          mapped.size, mapped.meta, mapped.output_size)
    mapped.meta.update({"seed": args.seed, "source_file": str(args.cache)})
    path = save_workload(mapped, args.out)
    print(f"wrote {path}: {len(mapped)} requests, {len(names)} models, span {mapped.span_s:.1f} s; "
          f"map ({args.map}): " + ", ".join(f"{k} -> {v}" for k, v in mapped.meta["model_map"].items()))
    return 0


def _build(args) -> int:
    from alpa_serve_like.trace.azure_functions import TraceWindow, load_function_trace, replay
    from alpa_serve_like.trace.function_trace import cache_kind
    from alpa_serve_like.trace.workload_io import WORKLOAD_KIND, save_workload

    if cache_kind(args.cache) == WORKLOAD_KIND:
        return _build_from_workload(args)
    _check_mode_flags(args)
    t = load_function_trace(args.cache)
    window = TraceWindow.of(args.day, args.hour, args.minute, hours=args.hours, minutes=args.minutes)
    w = replay(t, _model_names(args.models), window, mode=args.mode, rng=np.random.default_rng(args.seed),
               slo_s=_slo_s(args, _model_names(args.models)), mapping=args.mapping, top_n=args.top_n, rate_scale=args.rate_scale,
               cv_scale=args.cv_scale, fit_window_s=args.fit_window, time_compression=args.time_compression,
               spread=args.spread)
    w.meta["seed"] = args.seed
    path = save_workload(w, args.out)
    print(f"wrote {path}: {len(w)} requests, {len(w.model_names)} models, span {w.span_s:.1f} s")
    return 0


def _check_mode_flags(args) -> None:
    """Refuse a flag the chosen --mode, or a function-trace cache, would ignore (the workload would
    be written without it)."""
    if args.map != "round-robin":
        raise ValueError("--map applies to a workload input (the LLM trace from 'trace convert --llm'); a MAF1/MAF2 "
                         "cache assigns its functions to models with --mapping striped|contiguous")
    if args.mode == "exact":
        for flag, value, default in (("--rate-scale", args.rate_scale, 1.0), ("--cv-scale", args.cv_scale, 1.0),
                                     ("--fit-window", args.fit_window, 3600.0)):
            if value != default:
                raise ValueError(f"{flag} applies to --mode gamma (fitted Gamma processes); --mode exact replays "
                                 f"the trace's own requests (--time-compression replays them faster)")
    elif args.spread != "uniform":
        raise ValueError("--spread applies to --mode exact of a MAF1 cache (how a minute's count is spread); "
                         "--mode gamma draws its own arrival times")


def _generate(args) -> int:
    from alpa_serve_like.trace.synthetic import make_workload
    from alpa_serve_like.trace.workload_io import save_workload

    if args.cv != 1.0 and args.process not in ("gamma", "lognormal"):
        raise ValueError(f"--cv applies to --process gamma or lognormal; a {args.process} process has no gap CV to set")
    if args.alpha != 1.0 and args.split != "power_law":
        raise ValueError(f"--alpha applies to --split power_law (the split is {args.split}); add --split power_law")
    if args.weights and args.split != "explicit":
        raise ValueError(f"--weights applies to --split explicit (the split is {args.split}); add --split explicit")
    try:
        weights = [float(x) for x in args.weights.split(",")] if args.weights else None
    except ValueError:
        raise ValueError(f"--weights {args.weights!r}: expected comma-separated numbers, one per model") from None
    names = _model_names(args.models)
    w = make_workload(names, args.rate, args.duration, np.random.default_rng(args.seed),
                      slo_s=_slo_s(args, names), process=args.process, cv=args.cv, split=args.split,
                      alpha=args.alpha, weights=weights)
    path = save_workload(w, args.out)
    print(f"wrote {path}: {len(w)} requests, {len(w.model_names)} models, span {w.span_s:.1f} s")
    return 0


def _info(args) -> int:
    from alpa_serve_like.trace.function_trace import cache_kind, load_function_trace
    from alpa_serve_like.trace.stats import model_stats
    from alpa_serve_like.trace.workload_io import WORKLOAD_KIND, load_workload

    if cache_kind(args.file) != WORKLOAD_KIND:
        t = load_function_trace(args.file)
        print(f"{args.file}: {t.kind} trace cache, {t.num_functions} functions, {t.total_requests()} requests, "
              f"span {t.span_s / 86400:.2f} days, bad rows skipped at conversion {t.meta.get('bad_rows', 0)}")
        totals = t.function_totals(_whole(t))
        top = np.argsort(-totals, kind="stable")[:10]
        print("busiest functions:")
        for f in top:
            print(f"  {totals[f]:>12.0f}  {t.function_keys[f]}")
        return 0
    w = load_workload(args.file)
    print(f"{args.file}: {len(w)} requests, {len(w.model_names)} models, span {w.span_s:.3f} s, "
          f"first {w.arrival_s[0] if len(w) else 0:.3f} s, last {w.arrival_s[-1] if len(w) else 0:.3f} s, "
          f"source {w.meta.get('name', '?')}")
    import pandas as pd

    with pd.option_context("display.max_rows", 200, "display.width", 160):
        print(model_stats(w).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def _whole(t):
    from alpa_serve_like.trace.function_trace import TraceWindow

    if t.kind == "maf1":
        return TraceWindow(float(t.minute.min()) * 60 if len(t.minute) else 0.0, max(t.span_s, 60.0))
    lo = float(np.floor(t.arrival_s[0])) if len(t.arrival_s) else 0.0
    return TraceWindow(lo, max(float(t.arrival_s[-1]) + 1.0 if len(t.arrival_s) else 1.0, t.span_s))


def run(args) -> int:
    from alpa_serve_like.cli.errors import report

    handlers = {"convert": _convert, "build": _build, "generate": _generate, "info": _info}
    try:
        return handlers[args.trace_command](args)
    except (OSError, ValueError) as exc:  # bad files and bad option values alike
        return report(f"alpa-serve-like trace {args.trace_command}", exc)
