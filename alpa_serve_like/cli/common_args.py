"""The command line's one vocabulary: each concept has one flag name, one meaning, one help text.

- ``--num-devices N``: devices to place on (``--cluster`` still works, hidden).
- ``--models NAME:COUNT,...``: base models and copies (copies are named ``NAME-0``, ``NAME-1``, ...).
- ``--device TYPE``: device type name in the profiling database (``v100-16gb``, ``a100-80gb``, ``cpu``).
- ``--slo-scale X`` (SLO = X times each model's single-device latency) or ``--slo-ms MS``.
- ``--memory-budget-gib G``: usable memory per device (default: a share of the device's memory).
- ``--db PATH``, ``--out PATH``.
- ``--rules SET``: a named rule set of the simulator's scheduling (``scheduling.presets``).

Every subcommand's parser uses ``HelpFormatter``: the default of every option is shown.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from alpa_serve_like.core.hardware import BUILTIN_DEVICES, DEFAULT_MEMORY_FRACTION


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps descriptions as written and appends ``(default: X)`` to every option that has one
    (not to flags, whose default is off, nor to options whose default is "not given")."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default" in text.lower():
            return text
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return text
        return text + " (default: %(default)s)"


DEVICE_HELP = (f"device type name in the profiling database; built in: {', '.join(sorted(BUILTIN_DEVICES))}")


def add_num_devices(parser, required: bool = True, help_text: str = "number of devices to place on"):
    """``--num-devices N``; the old ``--cluster N`` is a hidden alias. Returns the either-or group
    (``place`` adds ``--cluster-spec`` to it)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--num-devices", type=int, metavar="N", help=help_text)
    group.add_argument("--cluster", type=int, dest="num_devices", help=argparse.SUPPRESS)
    return group


def add_models(parser, required: bool = True, help_text: str | None = None):
    parser.add_argument("--models", required=required, metavar="NAME:COUNT,...",
                        help=help_text or "base models and copies, e.g. bert-1.3b:10,moe-1.3b:10 "
                                          "(copies are named bert-1.3b-0, bert-1.3b-1, ...)")


def add_device(parser, default: str | None = "v100-16gb", help_text: str = DEVICE_HELP):
    parser.add_argument("--device", default=default, metavar="TYPE", help=help_text)


MEMORY_BUDGET_HELP = (f"usable memory per device (default: {DEFAULT_MEMORY_FRACTION * 100:g}%% of the device "
                      f"type's memory, e.g. 13 GiB on v100-16gb, 65 GiB on a100-80gb)")


def positive_gib(text: str) -> float:
    """argparse type of ``--memory-budget-gib``: a finite number of GiB > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of GiB > 0, got {text}")
    return value


def add_memory_budget(parser, help_text: str = MEMORY_BUDGET_HELP):
    parser.add_argument("--memory-budget-gib", type=positive_gib, default=None, metavar="GIB", help=help_text)


def add_db(parser, help_text: str = "profiling database (default: $ALPA_SERVE_LIKE_DB, "
                                    "./profiling_result.pkl, else the shipped one)"):
    parser.add_argument("--db", default=None, metavar="PATH", help=help_text)


def add_slo_scale(parser, default: float | None = 5.0):
    parser.add_argument("--slo-scale", type=float, default=default, metavar="X",
                        help="SLO of each model = X times its single-device batch-1 latency")


def add_max_batch_size(parser, default: int | None = 1, help_text: str = "dynamic batching limit (1: off)"):
    parser.add_argument("--max-batch-size", type=int, default=default, metavar="B", help=help_text)


RULES_HELP = ("simulator rule set: 'default' (ours) or 'alpaserve' (AlpaServe's simulator: 11 ms finish-only "
              "overhead, stage latencies x (1 + 0.009 pp), route to the group whose last stage frees first, "
              "float32 latencies and SLOs; see scheduling/presets.py)")


def add_rules(parser, default: str | None = "default", help_text: str = RULES_HELP):
    """``--rules SET``: one of ``scheduling.presets.RULE_SETS``."""
    from alpa_serve_like.scheduling.presets import RULE_SETS

    parser.add_argument("--rules", choices=tuple(RULE_SETS), default=default, metavar="SET", help=help_text)


def seed(text: str) -> int:
    """argparse type of ``--seed``: a whole number >= 0 (numpy's generators refuse a negative
    seed, and their message names neither the option nor the fix)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def check_out_path(path, flag: str = "--out") -> None:
    """Refuse, before any work, an output path the command could not write at its end (a missing
    or read-only folder, or a folder given as the file): the run would be lost."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{flag} {path}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{flag} {path}: folder {folder} is not writable")
