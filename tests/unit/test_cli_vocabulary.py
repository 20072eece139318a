"""The command line speaks one vocabulary: every option has help, shows its default, and each
concept has one flag name across subcommands."""
import argparse

import pytest

from alpa_serve_like.cli.main import COMMANDS, build_subparser, load_command


def _parsers():
    for name in COMMANDS:
        module = load_command(name)
        if module is None:
            continue
        parser = build_subparser(name, module)
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield f"{name} {sub_name}", sub


def _options(parser):
    return [a for a in parser._actions
            if a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]


PARSERS = dict(_parsers())


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help_that_shows_its_default(name):
    parser = PARSERS[name]
    for action in _options(parser):
        assert action.help, f"{name} {action.option_strings[0]}: no help text"
        shown = parser._get_formatter()._expand_help(action)
        if action.default is not None and action.default is not False:
            assert "default" in shown, f"{name} {action.option_strings[0]}: default {action.default!r} not shown"
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            text = parser.format_help()
            assert all(str(c) in text for c in action.choices), f"{name} {action.option_strings[0]}: choices"


def test_one_flag_name_per_concept():
    flags = {name: {o for a in _options(p) for o in a.option_strings} for name, p in PARSERS.items()}
    for name, seen in flags.items():
        # device count, SLO and output path: one spelling each
        assert not seen & {"--cluster", "--slo", "--tsv", "--memory-mib"}, f"{name} shows an old flag name"
    for name in ("place", "compare-policies", "serve"):
        assert "--num-devices" in flags[name]
    for name in ("place", "compare-policies", "serve"):
        assert {"--slo-scale", "--models", "--device", "--db"} <= flags[name]
    assert {"--slo-ms", "--slo-scale"} <= flags["trace generate"]


def test_old_flag_names_still_parse():
    args = PARSERS["place"].parse_args(["--policy", "mp-search", "--cluster", "4", "--models", "a:1", "--out", "p.json"])
    assert args.num_devices == 4
    args = PARSERS["compare-policies"].parse_args(["--policies", "mp-search", "--cluster", "4", "--models", "a:1",
                                                   "--tsv", "t.tsv"])
    assert args.out == "t.tsv"
