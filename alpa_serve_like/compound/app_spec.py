"""The compound application value: a DAG of tasks, each with model variants, plus two SLOs.

A request of a compound application runs every task of a directed acyclic graph; a task starts
when all its parents have finished. Each task lists the model *variants* that can serve it (a model
of the profiling database and the accuracy that variant reaches on the task) and its fan-out: how
many invocations of the task one application request makes (e.g. one per detected object).

The application has an end-to-end latency SLO (seconds from arrival until every sink task has
finished) and an accuracy SLO on the *composed* accuracy of the chosen variants, composed either as
the product of the task accuracies (errors compound along the graph) or as their minimum (the
weakest task decides); ``composition`` says which.

JSON form (see ``examples/compound_*.json``)::

    {"name": "detect-classify", "slo_s": 0.5, "accuracy_slo": 0.8, "composition": "product",
     "tasks": [{"name": "detect", "fan_out": 1, "parents": [],
                "variants": [{"model": "bert-1.3b", "accuracy": 0.9}, ...]}, ...]}

The JigsawServe paper (arXiv 2603.08797) publishes only its abstract; this format is ours.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

Composition = Literal["product", "min"]
COMPOSITIONS: tuple[str, ...] = get_args(Composition)


class AppSpecError(ValueError):
    """A compound application is malformed; the message names the field and the fix."""


@dataclass(frozen=True)
class Variant:
    """One way to serve a task: ``model`` (a name in the profiling database) at ``accuracy``."""

    model: str
    accuracy: float
    """Task accuracy metric of this variant, in (0, 1]."""


@dataclass(frozen=True)
class Task:
    """A node of the application graph."""

    name: str
    variants: tuple[Variant, ...]
    fan_out: int = 1
    """Invocations of this task per application request (all run in parallel once it starts)."""
    parents: tuple[str, ...] = ()
    """Tasks that must finish before this one starts; empty for a root."""


@dataclass(frozen=True)
class CompoundApp:
    """A compound application: tasks in topological order, end-to-end latency and accuracy SLOs."""

    name: str
    tasks: tuple[Task, ...]
    slo_s: float
    accuracy_slo: float = 0.0
    """Lowest acceptable composed accuracy; 0 means no accuracy requirement."""
    composition: Composition = "product"

    def __post_init__(self):
        object.__setattr__(self, "tasks", _topological(self.name, tuple(self.tasks)))
        where = f"application {self.name!r}"
        if not self.name:
            raise AppSpecError("application: 'name' is empty; give the application a name")
        if isinstance(self.slo_s, bool) or not (isinstance(self.slo_s, (int, float)) and math.isfinite(self.slo_s)
                                                and self.slo_s > 0):
            raise AppSpecError(f"{where}: slo_s must be a positive number of seconds, got {self.slo_s!r}")
        if isinstance(self.accuracy_slo, bool) or not (isinstance(self.accuracy_slo, (int, float))
                                                       and 0 <= self.accuracy_slo <= 1):
            raise AppSpecError(f"{where}: accuracy_slo must be in [0, 1], got {self.accuracy_slo!r}")
        if self.composition not in COMPOSITIONS:
            raise AppSpecError(
                f"{where}: composition {self.composition!r} is unknown; use one of {list(COMPOSITIONS)}"
            )

    # ---- graph queries ------------------------------------------------------------------------
    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise AppSpecError(f"application {self.name!r}: no task {name!r} (tasks: {list(self.task_names)})")

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks if name in t.parents)

    @property
    def sinks(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks if not self.children(t.name))

    def paths(self) -> tuple[tuple[str, ...], ...]:
        """Every root-to-leaf path, as task names; the latency budgets of each must fit the SLO."""
        out: list[tuple[str, ...]] = []

        def walk(path: tuple[str, ...]) -> None:
            kids = self.children(path[-1])
            if not kids:
                out.append(path)
            for kid in kids:
                walk(path + (kid,))

        for t in self.tasks:
            if not t.parents:
                walk((t.name,))
        return tuple(out)

    def composed_accuracy(self, variant_by_task: dict[str, Variant]) -> float:
        """Accuracy of the application when each task runs ``variant_by_task[task]``."""
        accs = [variant_by_task[t.name].accuracy for t in self.tasks]
        return float(math.prod(accs)) if self.composition == "product" else float(min(accs))

    def models(self) -> tuple[str, ...]:
        """Every model some variant uses, in order of first appearance."""
        return tuple(dict.fromkeys(v.model for t in self.tasks for v in t.variants))

    # ---- plain data ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name, "slo_s": self.slo_s, "accuracy_slo": self.accuracy_slo,
            "composition": self.composition,
            "tasks": [
                {"name": t.name, "fan_out": t.fan_out, "parents": list(t.parents),
                 "variants": [{"model": v.model, "accuracy": v.accuracy} for v in t.variants]}
                for t in self.tasks
            ],
        }

    @classmethod
    def from_dict(cls, data: object, where: str = "application") -> "CompoundApp":
        if not isinstance(data, dict):
            raise AppSpecError(f"{where}: expected a JSON object, got {type(data).__name__}")
        allowed = {"name", "slo_s", "accuracy_slo", "composition", "tasks", "description"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise AppSpecError(f"{where}: unknown fields {unknown}; allowed: {sorted(allowed)}")
        for key in ("name", "slo_s", "tasks"):
            if key not in data:
                raise AppSpecError(f"{where}: missing field {key!r}")
        if not isinstance(data["tasks"], list) or not data["tasks"]:
            raise AppSpecError(f"{where}: 'tasks' must be a non-empty list of task objects")
        tasks = tuple(_task_from_dict(t, f"{where} tasks[{i}]") for i, t in enumerate(data["tasks"]))
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise AppSpecError(f"{where}: 'name' must be a non-empty string, got {data['name']!r}")
        return cls(name=data["name"], tasks=tasks, slo_s=data["slo_s"],
                   accuracy_slo=data.get("accuracy_slo", 0.0),
                   composition=data.get("composition", "product"))


def load_app(path: str | os.PathLike) -> CompoundApp:
    """Read a compound application from a JSON file; errors name the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AppSpecError(f"application file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise AppSpecError(f"application file {str(path)!r}: not valid JSON ({exc})") from None
    return CompoundApp.from_dict(data, where=str(path))


def task_deadline_offsets_s(app: CompoundApp, budget_s_by_task: dict[str, float]) -> list[float]:
    """Per task (app order): its latest finish after arrival that still leaves every downstream
    task its planned budget, ``slo_s - max over paths below it of the budgets' sum``."""
    tail: dict[str, float] = {}
    for t in reversed(app.tasks):  # children before parents
        tail[t.name] = max((budget_s_by_task[c] + tail[c] for c in app.children(t.name)), default=0.0)
    return [app.slo_s - tail[t.name] for t in app.tasks]


def _task_from_dict(data: object, where: str) -> Task:
    if not isinstance(data, dict):
        raise AppSpecError(f"{where}: expected an object with name, variants, fan_out, parents")
    unknown = sorted(set(data) - {"name", "variants", "fan_out", "parents"})
    if unknown:
        raise AppSpecError(f"{where}: unknown fields {unknown}; allowed: fan_out, name, parents, variants")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise AppSpecError(f"{where}: 'name' must be a non-empty string")
    variants = data.get("variants")
    if not isinstance(variants, list):
        raise AppSpecError(f"{where} ({name!r}): 'variants' must be a list of {{model, accuracy}} objects")
    parsed = []
    for j, v in enumerate(variants):
        if not isinstance(v, dict) or set(v) != {"model", "accuracy"}:
            raise AppSpecError(f"{where} ({name!r}) variants[{j}]: expected exactly {{'model', 'accuracy'}}, got {v!r}")
        parsed.append(Variant(model=v["model"], accuracy=v["accuracy"]))
    parents = data.get("parents", [])
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise AppSpecError(f"{where} ({name!r}): 'parents' must be a list of task names")
    return Task(name=name, variants=tuple(parsed), fan_out=data.get("fan_out", 1), parents=tuple(parents))


def _check_task(app: str, task: Task) -> None:
    where = f"application {app!r} task {task.name!r}"
    if not isinstance(task.fan_out, int) or isinstance(task.fan_out, bool) or task.fan_out < 1:
        raise AppSpecError(f"{where}: fan_out must be an integer >= 1, got {task.fan_out!r}")
    if not task.variants:
        raise AppSpecError(f"{where}: no variants; list at least one {{model, accuracy}}")
    seen = set()
    for v in task.variants:
        if not isinstance(v.model, str) or not v.model:
            raise AppSpecError(f"{where}: a variant's model must be a non-empty model name")
        if v.model in seen:
            raise AppSpecError(f"{where}: model {v.model!r} is listed twice; list each variant once")
        seen.add(v.model)
        acc = v.accuracy
        if not isinstance(acc, (int, float)) or isinstance(acc, bool) or not (0 < acc <= 1):
            raise AppSpecError(f"{where} variant {v.model!r}: accuracy must be in (0, 1], got {acc!r}")
    if task.name in task.parents:
        raise AppSpecError(f"{where}: lists itself as a parent; remove it from 'parents'")
    if len(set(task.parents)) != len(task.parents):
        raise AppSpecError(f"{where}: a parent is listed twice in {list(task.parents)}")


def _topological(app: str, tasks: tuple[Task, ...]) -> tuple[Task, ...]:
    """``tasks`` checked and sorted so every parent precedes its children (stable otherwise)."""
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AppSpecError(f"application {app!r}: task names {dup} appear twice; task names must be unique")
    if not tasks:
        raise AppSpecError(f"application {app!r}: no tasks; list at least one")
    for t in tasks:
        _check_task(app, t)
        missing = [p for p in t.parents if p not in names]
        if missing:
            raise AppSpecError(
                f"application {app!r} task {t.name!r}: parents {missing} are not tasks (tasks: {names})"
            )
    done: list[Task] = []
    placed: set[str] = set()
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if all(p in placed for p in t.parents)]
        if not ready:
            raise AppSpecError(
                f"application {app!r}: tasks {[t.name for t in pending]} form a cycle; "
                f"the task graph must be acyclic"
            )
        for t in ready:
            done.append(t)
            placed.add(t.name)
        pending = [t for t in pending if t.name not in placed]
    return tuple(done)
