"""The compound application value: validation messages, graph queries, JSON round trip."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alpa_serve_like.compound.app_spec import AppSpecError, CompoundApp, Task, Variant, load_app

ROOT = Path(__file__).resolve().parents[2]


def _task(name, parents=(), fan_out=1, accs=(0.9,)):
    return Task(name, tuple(Variant(f"{name}-m{i}", a) for i, a in enumerate(accs)), fan_out, tuple(parents))


def test_tasks_are_sorted_topologically_and_paths_cover_the_diamond():
    app = CompoundApp("d", (_task("sink", ["l", "r"]), _task("r", ["root"]), _task("l", ["root"]),
                            _task("root")), slo_s=1.0)
    assert app.task_names == ("root", "r", "l", "sink")
    assert set(app.paths()) == {("root", "r", "sink"), ("root", "l", "sink")}
    assert app.sinks == ("sink",)
    assert app.children("root") == ("r", "l")


def test_composed_accuracy_product_and_min():
    tasks = (_task("a", accs=(0.9,)), _task("b", ["a"], accs=(0.8,)))
    choice = {"a": tasks[0].variants[0], "b": tasks[1].variants[0]}
    assert CompoundApp("p", tasks, 1.0).composed_accuracy(choice) == pytest.approx(0.72)
    assert CompoundApp("m", tasks, 1.0, composition="min").composed_accuracy(choice) == pytest.approx(0.8)


@pytest.mark.parametrize("tasks, kwargs, message", [
    ((_task("a", ["b"]), _task("b", ["a"])), {}, "form a cycle"),
    ((_task("a", ["ghost"]),), {}, "parents ['ghost'] are not tasks"),
    ((_task("a"), _task("a")), {}, "appear twice"),
    ((_task("a", accs=(1.5,)),), {}, "accuracy must be in (0, 1]"),
    ((_task("a", fan_out=0),), {}, "fan_out must be an integer >= 1"),
    ((Task("a", ()),), {}, "no variants"),
    ((_task("a"),), {"composition": "mean"}, "use one of ['product', 'min']"),
    ((_task("a"),), {"slo_s": 0.0}, "slo_s must be a positive number"),
    ((_task("a"),), {"accuracy_slo": 2.0}, "accuracy_slo must be in [0, 1]"),
])
def test_invalid_applications_name_the_problem(tasks, kwargs, message):
    args = {"slo_s": 1.0, **kwargs}
    with pytest.raises(AppSpecError, match="application 'x'.*" + _escape(message)):
        CompoundApp("x", tasks, **args)


def _escape(text):
    import re

    return re.escape(text)


def test_json_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "slo_s": 1, "tasks": [{"name": "a", "variants": [{"model": "m"}]}]}))
    with pytest.raises(AppSpecError, match=r"bad.json tasks\[0\] \('a'\) variants\[0\]: expected exactly"):
        load_app(bad)
    bad.write_text(json.dumps({"name": "x", "slo_s": 1, "tasks": [], "slo": 2}))
    with pytest.raises(AppSpecError, match=r"unknown fields \['slo'\]"):
        load_app(bad)
    with pytest.raises(AppSpecError, match="does not exist"):
        load_app(tmp_path / "missing.json")


def test_round_trip_and_shipped_examples_use_profiled_models():
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    db = ProfilingDatabase.load(default_database_path())
    for path in sorted((ROOT / "examples").glob("compound_*.json")):
        app = load_app(path)
        assert CompoundApp.from_dict(app.to_dict()) == app
        for model in app.models():
            db.get(model, "a100-80gb")  # raises if a variant's model is not profiled
    assert len(list((ROOT / "examples").glob("compound_*.json"))) >= 2


@pytest.mark.parametrize("field, value, expected", [
    ("slo_s", True, "slo_s must be a positive number of seconds, got True"),
    ("accuracy_slo", True, "accuracy_slo must be in [0, 1], got True"),
    ("name", 5, "'name' must be a non-empty string, got 5"),
])
def test_booleans_and_numbers_are_not_taken_for_other_types(field, value, expected):
    # JSON true passed as slo_s = 1 s and accuracy_slo = 1, a numeric name as the text "5"
    data = json.loads((Path(__file__).resolve().parents[2] / "examples" / "compound_xr_chain.json").read_text())
    data[field] = value
    with pytest.raises(AppSpecError, match=re.escape(expected)):
        CompoundApp.from_dict(data, "app.json")
