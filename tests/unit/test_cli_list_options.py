"""List-valued options (``--map``, ``--weights``, ``--days``) refuse a malformed value naming the
option and the expected form, instead of Python's "not enough values to unpack" or silently
taking the last of two targets; ``--weights`` without ``--split explicit`` is refused instead of
being ignored (the workload came out uniform)."""
from __future__ import annotations

import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.trace.model_mapping import parse_map


@pytest.mark.parametrize("text, expected", [
    ("conv=a,code", "'code' is not SRC=MODEL"),
    ("conv=", "'conv=' is not SRC=MODEL"),
    ("=a", "'=a' is not SRC=MODEL"),
    ("conv=a,conv=b", "'conv' is mapped twice"),
])
def test_malformed_map_names_the_item(text, expected):
    with pytest.raises(ValueError, match=expected):
        parse_map(text)


def test_good_maps_parse():
    assert parse_map("conv = a, code=b") == {"conv": "a", "code": "b"}
    assert parse_map("popularity") == "popularity"


def _generate(tmp_path, *extra):
    return main(["trace", "generate", "--models", "a,b", "--rate", "5", "--duration", "10",
                 "--out", str(tmp_path / "w.npz"), *extra])


def test_weights_without_explicit_split_are_refused(tmp_path, capsys):
    assert _generate(tmp_path, "--weights", "1,2") == 2
    assert "--weights applies to --split explicit" in capsys.readouterr().err
    assert not (tmp_path / "w.npz").exists()
    assert _generate(tmp_path, "--weights", "1,2", "--split", "explicit") == 0


def test_bad_weight_names_the_option(tmp_path, capsys):
    assert _generate(tmp_path, "--weights", "1,x", "--split", "explicit") == 2
    assert "--weights '1,x'" in capsys.readouterr().err


def test_bad_days_name_the_option(tmp_path, capsys):
    assert main(["trace", "convert", "--maf1-dir", str(tmp_path), "--days", "1-x", "--out", str(tmp_path / "c.npz")]) == 2
    assert "--days '1-x'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["trace", "generate", "--models", "a", "--rate", "1", "--duration", "1", "--out", "x.npz"],
    ["place", "--policy", "sr-greedy", "--num-devices", "1", "--models", "bert-1.3b:1", "--out", "x.json"],
    ["replay", "--url", "http://127.0.0.1:9", "--models", "a", "--out", "r.tsv"],
])
def test_negative_seed_is_refused_by_the_option(argv, capsys):
    # numpy's own refusal ("expected non-negative integer") named neither the option nor the fix
    with pytest.raises(SystemExit) as info:
        main([*argv, "--seed", "-1"])
    assert info.value.code == 2
    assert "argument --seed: expected a whole number >= 0, got -1" in capsys.readouterr().err


@pytest.mark.parametrize("extra, expected", [
    (["--slo-scale", "5", "--slo-ms", "100"], "give --slo-scale or --slo-ms, not both"),
    (["--slo", "0.5", "--slo-ms", "100"], "give --slo-ms or the older --slo (seconds), not both"),
    (["--device", "a100-80gb"], "--device applies with --slo-scale"),
    (["--db", "x.pkl"], "--db applies with --slo-scale"),
])
def test_generate_slo_flags_that_would_be_ignored_are_refused(tmp_path, capsys, extra, expected):
    # --slo-scale silently won over --slo-ms, and --device/--db without --slo-scale were dropped
    argv = ["trace", "generate", "--models", "bert-1.3b-0", "--rate", "1", "--duration", "5",
            "--out", str(tmp_path / "w.npz"), *extra]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "w.npz").exists()


@pytest.mark.parametrize("extra, expected", [
    (["--process", "poisson", "--cv", "4"], "--cv applies to --process gamma or lognormal"),
    (["--process", "deterministic", "--cv", "0.5"], "--cv applies to --process gamma or lognormal"),
    (["--alpha", "2"], "--alpha applies to --split power_law"),
])
def test_generate_shape_flags_the_process_ignores_are_refused(tmp_path, capsys, extra, expected):
    # a Poisson or deterministic stream has no CV to set, a uniform split no exponent
    assert _generate(tmp_path, *extra) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "w.npz").exists()
    assert _generate(tmp_path, "--process", "lognormal", "--cv", "2", "--split", "power_law", "--alpha", "2") == 0


@pytest.mark.parametrize("argv", [
    ["db", "show", "bert-1.3b", "--device", "v100-16gb"],
    ["place", "--policy", "sr-greedy", "--num-devices", "1", "--models", "bert-1.3b:1", "--out", "x.json"],
    ["simulate", "--placement", "p.json", "--workload", "w.npz"],
])
@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_non_positive_memory_budget_is_refused_by_the_option(argv, value, capsys):
    # db show marked every config "no" under a budget of -1 GiB
    with pytest.raises(SystemExit) as info:
        main([*argv, f"--memory-budget-gib={value}"])
    assert info.value.code == 2
    assert "argument --memory-budget-gib: expected a number of GiB > 0" in capsys.readouterr().err


def test_generate_model_names_are_stripped(tmp_path, capsys):
    # "a, b" named the second model " b", which no plan's "b" matched; " " named a model " "
    from alpa_serve_like.trace.workload_io import load_workload

    assert main(["trace", "generate", "--models", "a, b", "--rate", "2", "--duration", "5",
                 "--out", str(tmp_path / "w.npz")]) == 0
    assert load_workload(tmp_path / "w.npz").model_names == ("a", "b")
    assert main(["trace", "generate", "--models", " ", "--rate", "2", "--duration", "5",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "give at least one model name" in capsys.readouterr().err
