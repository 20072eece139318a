"""The root folders install under ``alpa_serve_like.*`` and never shadow the standard library.

Installs a non-editable copy of the project into a temporary folder and imports it from a neutral
working directory, so neither the source tree nor the editable install can answer the imports.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = r"""
import sys, trace
target = sys.argv[1]
assert hasattr(trace, "Trace") and not trace.__file__.startswith(target), (
    f"the standard library's trace module was shadowed by {trace.__file__}")
import alpa_serve_like, alpa_serve_like.trace, alpa_serve_like.placement
import alpa_serve_like.controllers, alpa_serve_like.osdi_artifact
import alpa_serve_like.core.workload
for mod in (alpa_serve_like, alpa_serve_like.trace, alpa_serve_like.placement, alpa_serve_like.controllers):
    assert mod.__file__.startswith(target), (mod.__name__, mod.__file__)
for name in ("placement", "controllers", "osdi_artifact"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise AssertionError(f"top-level {name!r} is importable from the installed copy")
from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path
db_path = default_database_path()
assert str(db_path).startswith(target), db_path
assert ProfilingDatabase.load(db_path).devices, "shipped profiling database is empty"
print("ok")
"""


@pytest.mark.timeout(600)
def test_non_editable_install_imports_under_package_names(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ALPA_SERVE_LIKE_DB")}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")
