"""The layers of the house, checked in the import statements of every module (issue 9).

    clients     cli, demo, client, osdi_artifact, __main__        (may import anything)
    runtime     runtime, controllers, serve.py  -> core, scheduling, profiling, models
    placement   -> core, scheduling, simulator
    simulator   -> core, scheduling
    models      -> core, cost_model                (torch models; the stage cut is the cost model's)
    scheduling, trace, profiling, cost_model -> core
    core        -> nothing of ours; no ray, torch or matplotlib

Only ``models``, ``runtime``/``controllers`` and the clients may import torch, ray or matplotlib
(models: torch only). No module under the package roots imports ``cli`` or ``osdi_artifact``
unless it is a client. No relative import anywhere. Every import counts, including those inside
functions: a lazy import is still a dependency. The few documented exceptions are in EXCEPTIONS;
an exception that no import uses any more fails too, so the list stays short and true.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOT_SUBPACKAGES = ("placement", "controllers", "trace", "osdi_artifact")  # installed as alpa_serve_like.<name>
CLIENTS = {"cli", "demo", "client", "osdi_artifact"}
HEAVY = {"ray", "torch", "matplotlib"}

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "cost_model": {"core"},
    "profiling": {"core"},
    "trace": {"core"},
    "scheduling": {"core"},
    "simulator": {"core", "scheduling"},
    "placement": {"core", "scheduling", "simulator"},
    "compound": {"core", "scheduling", "simulator", "profiling", "cost_model"},
    "models": {"core", "cost_model"},
    "runtime": {"core", "scheduling", "profiling", "models", "controllers"},
    "controllers": {"core", "scheduling", "profiling", "models", "runtime"},
}
"""Layer -> the layers of ours it may import (besides itself). Clients are not listed: anything goes."""

HEAVY_ALLOWED: dict[str, set[str]] = {"models": {"torch"}, "runtime": {"ray", "torch"}, "controllers": {"ray", "torch"}}

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("alpa_serve_like/runtime/auto_placement.py", "placement"):
        "the runtime's one gateway into the optimizer: serve-time auto-placement (plan_placement) "
        "and the memory re-check of a plan served on another device type (check_plan_device)",
    ("controllers/app_routes.py", "compound"):
        "serves compound applications: their value (compound.app_spec) and the graph executor "
        "(compound.executor, pure asyncio over the controller's own infer)",
    ("placement/problem_inputs.py", "profiling"):
        "builds a problem's model profiles from the profiling database by name",
    ("placement/problem_inputs.py", "trace"):
        "builds a synthetic training workload with trace.synthetic",
}
"""(file, imported layer) -> why. Keep this list small; each entry must still be used."""


def layer_of_file(rel: str) -> str:
    """Layer of a source file, by its path relative to the repository root."""
    parts = Path(rel).parts
    if parts[0] in ROOT_SUBPACKAGES:
        return parts[0]
    assert parts[0] == "alpa_serve_like", rel
    if len(parts) == 2:
        return {"__init__.py": "core", "__main__.py": "cli", "serve.py": "runtime"}.get(parts[1], "?" + parts[1])
    return parts[1]


def layer_of_module(dotted: str) -> str:
    """Layer of an imported ``alpa_serve_like...`` module (the bare package re-exports core values)."""
    parts = dotted.split(".")
    if len(parts) == 1:
        return "core"
    return {"serve": "runtime", "__main__": "cli"}.get(parts[1], parts[1])


def imports_of(source: str):
    """(line, top-level name, dotted module) of every import in ``source``, at any depth."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, "." * node.level + (node.module or ""), node.level
            elif node.module == "alpa_serve_like":  # a subpackage (``import placement``) or a core value
                for alias in node.names:
                    sub = alias.name in set(ALLOWED) | CLIENTS | {"serve", "__main__"}
                    yield node.lineno, f"alpa_serve_like.{alias.name}" if sub else "alpa_serve_like", 0
            else:
                yield node.lineno, node.module, 0


def violations_in(rel: str, source: str, used_exceptions: set | None = None) -> list[str]:
    """Every broken rule in one file, as ``file:line: rule`` messages."""
    layer = layer_of_file(rel)
    out = []
    if layer not in ALLOWED and layer not in CLIENTS:
        return [f"{rel}: layer {layer!r} is unknown to tests/unit/test_layers.py; add it to ALLOWED with its rule"]
    for line, name, level in imports_of(source):
        where = f"{rel}:{line}"
        if level:
            out.append(f"{where}: relative import {name!r}; write it absolute (from alpa_serve_like.<pkg>...)")
            continue
        top = name.split(".")[0]
        if layer in CLIENTS:
            continue
        if top in HEAVY and top not in HEAVY_ALLOWED.get(layer, set()):
            out.append(f"{where}: {layer} imports {top} ({name}); only models (torch), runtime/controllers "
                       f"(ray, torch) and clients may")
        if top != "alpa_serve_like":
            continue
        target = layer_of_module(name)
        if target == layer or target in ALLOWED[layer]:
            continue
        if (rel, target) in EXCEPTIONS:
            if used_exceptions is not None:
                used_exceptions.add((rel, target))
            continue
        if target in CLIENTS:
            out.append(f"{where}: library layer {layer} imports client {name}; move the logic it needs "
                       f"into a library package (clients may import libraries, never the reverse)")
        else:
            out.append(f"{where}: {layer} imports {name} ({target}); {layer} may import only "
                       f"{', '.join(sorted(ALLOWED[layer])) or 'nothing of ours'}")
    return out


def _sources():
    roots = ["alpa_serve_like", *ROOT_SUBPACKAGES]
    files = sorted(p for r in roots for p in (REPO / r).rglob("*.py"))
    assert len(files) > 100, "the package sources were not found"
    return [(p.relative_to(REPO).as_posix(), p.read_text()) for p in files]


def test_every_module_keeps_to_its_layer():
    used: set = set()
    found = [v for rel, src in _sources() for v in violations_in(rel, src, used)]
    assert not found, "layer rules broken:\n" + "\n".join(found)
    stale = sorted(set(EXCEPTIONS) - used)
    assert not stale, f"EXCEPTIONS no import uses any more (remove them): {stale}"


def test_no_relative_imports_in_tests_benchmarks_or_scripts():
    found = []
    for folder in ("tests", "benchmarks", "scripts"):
        for p in sorted((REPO / folder).rglob("*.py")):
            rel = p.relative_to(REPO).as_posix()
            found += [f"{rel}:{line}: relative import {name!r}" for line, name, level in imports_of(p.read_text()) if level]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("rel, source, expected", [
    ("alpa_serve_like/core/x.py", "import torch\n", "core imports torch"),
    ("alpa_serve_like/core/x.py", "def f():\n    from alpa_serve_like.trace import y\n", "core/x.py:2: core imports"),
    ("alpa_serve_like/profiling/x.py", "import torch.nn\n", "profiling imports torch"),
    ("alpa_serve_like/simulator/x.py", "from alpa_serve_like.placement import place\n", "simulator imports"),
    ("alpa_serve_like/runtime/x.py", "from alpa_serve_like.cli.place_cmd import f\n", "imports client"),
    ("placement/x.py", "from alpa_serve_like import osdi_artifact\n", "imports client"),
    ("trace/x.py", "from ..core import workload\n", "relative import"),
    ("alpa_serve_like/runtime/x.py", "from alpa_serve_like.placement import place\n", "runtime imports"),
    ("alpa_serve_like/newpkg/x.py", "", "unknown"),
])
def test_checker_reports_each_kind_of_violation(rel, source, expected):
    found = violations_in(rel, source)
    assert len(found) == 1 and expected in found[0], found


def test_checker_accepts_allowed_imports():
    ok = ("import numpy\nfrom alpa_serve_like.core.plan import Placement\n"
          "from alpa_serve_like.scheduling import SchedulingOptions\nfrom alpa_serve_like import ParallelConfig\n")
    assert violations_in("alpa_serve_like/simulator/x.py", ok) == []
    assert violations_in("alpa_serve_like/cli/x.py", "import torch\nfrom alpa_serve_like.osdi_artifact import y\n") == []
    assert violations_in("alpa_serve_like/runtime/auto_placement.py", "from alpa_serve_like.placement import place\n") == []
