"""The command line shared by every ``gen_data_<experiment>`` script.

``python -m alpa_serve_like.osdi_artifact.gen_data_<exp> [--quick] [--out X.tsv] [--jobs N]
[--maf1-dir DIR] [--maf2-file FILE] [--llm-dir DIR] [--model-sets S1,S3] [--traces maf1,llm] [--in-sample]
[--rules default|alpaserve]``

``--in-sample`` scores each placement on its own training traffic, as AlpaServe's published
numbers were measured (default file name ``<experiment>[_quick]_in_sample.tsv``); held-out is the default.

Cases on the ``llm`` trace (the real Azure LLM inference trace 2023) run only when ``--llm-dir`` is
given: it has no stand-in.
"""
from __future__ import annotations

import argparse
import sys

from alpa_serve_like.osdi_artifact.results import ResultsFileError
from alpa_serve_like.osdi_artifact.runner import default_jobs, run_points
from alpa_serve_like.osdi_artifact.suites import SUITES, points
from alpa_serve_like.osdi_artifact.workloads import TraceSources, load_source

TRACE_FLAGS = {"maf1": "--maf1-dir", "maf2": "--maf2-file", "llm": "--llm-dir"}


def positive_int(text: str) -> int:
    """``--jobs``: a whole number >= 1 (0 and negative numbers were taken as "all cores" and "1")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def out_path(text: str) -> str:
    """``--out``: refused at once when its folder does not exist (the run would be lost at its end)."""
    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(text, "")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).strip()) from None
    return text


def script_parser(experiment: str, description: str, quick_help: str, default_out: str) -> argparse.ArgumentParser:
    """The parser of a ``gen_data_{experiment}`` script outside the AlpaServe suites: ``--quick``
    (``quick_help`` says what it shortens) and ``--out`` (overwritten, default ``default_out``)."""
    p = argparse.ArgumentParser(prog=f"python -m alpa_serve_like.osdi_artifact.gen_data_{experiment}",
                                description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=default_out, type=out_path, help=f"output TSV, overwritten (default {default_out})")
    return p


def build_parser(experiment: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m alpa_serve_like.osdi_artifact.gen_data_{experiment}",
                                description=description)
    p.add_argument("--quick", action="store_true", help="the reduced CI version (under 2 minutes on 2 cores)")
    p.add_argument("--out", default=None, help=f"results TSV (default {experiment}[_quick].tsv); "
                                               "an existing file is resumed")
    p.add_argument("--jobs", type=positive_int, default=None, help=f"worker processes (default: all cores, {default_jobs()})")
    p.add_argument("--maf1-dir", default=None,
                   help="real MAF1 (Azure Functions 2019): directory of the day CSVs, or a converted .npz; "
                        "default: the synthetic stand-in")
    p.add_argument("--maf2-file", default=None,
                   help="real MAF2 (Azure Functions 2021): the invocation trace file, or a converted .npz; "
                        "default: the synthetic stand-in")
    p.add_argument("--llm-dir", default=None,
                   help="real Azure LLM inference trace 2023: folder with AzureLLMInferenceTrace_{conv,code}.csv "
                        "(e.g. ../shared/data); default: cases on the llm trace are left out")
    p.add_argument("--trace-cache", default=".trace_cache", help="where converted real traces are cached")
    p.add_argument("--model-sets", default=None, help="only these model sets, e.g. S3 or S1,S2")
    p.add_argument("--traces", default=None, help="only these traces, e.g. maf1 or llm (default: maf1, maf2, "
                                                   "and llm with --llm-dir)")
    p.add_argument("--in-sample", action="store_true",
                   help="score on the training traffic (AlpaServe's published numbers are in-sample); default held-out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from alpa_serve_like.cli.common_args import RULES_HELP
    from alpa_serve_like.scheduling.presets import RULE_SETS

    p.add_argument("--rules", choices=tuple(RULE_SETS), default="default",
                   help=RULES_HELP + "; policies place and every point is scored under it (default: default; "
                                     "other sets write <experiment>[_quick]_<set>.tsv by default)")
    return p


def gen_data_main(experiment: str, argv: list[str] | None = None) -> int:
    suite_fn = SUITES[experiment]
    args = build_parser(experiment, suite_fn().description).parse_args(argv)
    suite = suite_fn(quick=args.quick)
    held_out = sorted({sw.field for sw in suite.sweeps if sw.field.startswith("test_")})
    if args.in_sample and held_out:  # the evaluation traffic these sweep is replaced by the training traffic
        print(f"gen_data_{experiment}: --in-sample scores on the training traffic, so the sweeps of "
              f"{', '.join(held_out)} would all score the same traffic; run it without --in-sample", file=sys.stderr)
        return 2
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None
    traces = split(args.traces)
    if traces and "llm" in traces and not args.llm_dir:
        print(f"gen_data_{experiment}: --traces llm needs --llm-dir (the folder holding the Azure LLM trace)",
              file=sys.stderr)
        return 2
    if not traces:
        traces = ["maf1", "maf2"] + (["llm"] if args.llm_dir else [])
    model_sets = split(args.model_sets)
    todo = points(suite, model_sets, traces)
    # A name that selects nothing, or a trace file no point reads, would be ignored without a word.
    unmatched = [f"--model-sets {m}" for m in model_sets or () if m not in {p.case.model_set for p in todo}]
    if args.traces or not todo:
        unmatched += [f"--traces {t}" for t in traces if t not in {p.case.trace for p in todo}]
    held = ", ".join(f"{c.model_set} on {c.trace}" for c in suite.base_cases)
    held = f"this suite{' with --quick' if args.quick else ''} holds {held}"
    if unmatched:
        print(f"gen_data_{experiment}: no points match {' '.join(unmatched)} ({held}; llm needs --llm-dir)",
              file=sys.stderr)
        return 2
    for t, flag in TRACE_FLAGS.items():  # a note, not a refusal: one set of flags may serve every script
        if getattr(args, flag[2:].replace("-", "_")) and t not in {p.case.trace for p in todo}:
            print(f"note: {flag} is not read: this run has no {t} case ({held})", file=sys.stderr)
    rules = "" if args.rules == "default" else f"_{args.rules}"  # results under other rules never mix
    out = args.out or f"{experiment}{'_quick' if args.quick else ''}{'_in_sample' if args.in_sample else ''}{rules}.tsv"
    from alpa_serve_like.cli.common_args import check_out_path

    try:  # refused before any row: a row of every point saying the same "no such file" is no result
        check_out_path(out)
    except ValueError as exc:
        print(f"gen_data_{experiment}: {exc}", file=sys.stderr)
        return 2
    sources = TraceSources(args.maf1_dir, args.maf2_file, args.trace_cache, llm=args.llm_dir)
    for trace in sorted({p.case.trace for p in todo}):
        try:
            load_source(sources, trace)
        except (ValueError, OSError) as exc:
            print(f"gen_data_{experiment}: {TRACE_FLAGS[trace]} {sources.path(trace)}: {exc}", file=sys.stderr)
            return 2
        print(f"trace {trace}: {sources.source_text(trace)}", file=sys.stderr)
    try:
        stats = run_points(todo, out, args.jobs, sources, progress=not args.no_progress, in_sample=args.in_sample,
                           rules=args.rules)
    except ResultsFileError as exc:
        print(f"gen_data_{experiment}: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: {stats['ran']} points computed in {stats['seconds']:.1f} s "
          f"({stats['done_before']} already there, {stats['errors']} where the policy could not place the case "
          f"or failed; see the error column)")
    if stats["scored"] == 0:
        print(f"gen_data_{experiment}: every point failed (first: {stats['first_error']}); nothing to plot",
              file=sys.stderr)
        return 1
    return 0 if stats["failures"] == 0 else 1
