"""``alpa-serve-like`` (also ``python -m alpa_serve_like``): one entry point, one module per subcommand.

Each subcommand lives in ``alpa_serve_like/cli/<name>_cmd.py`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their command
runs, so ``--help`` stays fast and a command whose extra (torch, ray) is missing fails alone.
A bad input (a loader's typed error, see ``cli.errors``) ends any command with one line on stderr
and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help). The help is here, not in the module, so listing the commands
# imports nothing heavy.
COMMANDS: dict[str, tuple[str, str]] = {
    "profile": ("profile_cmd", "fill a profiling database (analytic cost model, or --measure torch models)"),
    "db": ("db_cmd", "list, show, validate, import or merge profiling databases"),
    "trace": ("trace_cmd", "convert, inspect and generate workloads from real traces"),
    "simulate": ("simulate_cmd", "score a placement on a workload with the cluster simulator"),
    "place": ("place_cmd", "compute a placement with a named policy"),
    "compare-policies": ("compare_cmd", "run several placement policies and compare SLO attainment"),
    "serve": ("serve_cmd", "serve a placement with Ray Serve"),
    "replay": ("replay_cmd", "replay a workload against a running server (open loop)"),
    "compound": ("compound_cmd", "plan compound applications (task graphs, model variants, MIG slices)"),
    "demo": ("demo_cmd", "small end-to-end demo: local Ray, CPU, tiny models"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alpa-serve-like",
        description="Serve many models on a shared cluster under latency SLOs (AlpaServe-style).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def load_command(name: str):
    """The module of subcommand ``name`` (imported only when that command runs)."""
    return importlib.import_module(f"alpa_serve_like.cli.{COMMANDS[name][0]}")


def build_subparser(name: str, module) -> argparse.ArgumentParser:
    """The parser of one subcommand; every option's help shows its default (``common_args``)."""
    from alpa_serve_like.cli.common_args import HelpFormatter

    sub = argparse.ArgumentParser(prog=f"alpa-serve-like {name}", description=COMMANDS[name][1],
                                  formatter_class=HelpFormatter)
    module.add_arguments(sub)
    return sub


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r} (choose from {', '.join(COMMANDS)})")
    module = load_command(name)
    sub = build_subparser(name, module)
    args = sub.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except BrokenPipeError:
        # The reader went away (``... | head``): not an error of ours; keep Python from complaining
        # again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from alpa_serve_like.cli.errors import bad_input_errors, report

        if isinstance(exc, bad_input_errors()):
            return report(f"alpa-serve-like {name}", exc)
        raise


if __name__ == "__main__":
    sys.exit(main())
