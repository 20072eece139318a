"""The controller process never needs torch: importing every controller-side module must not load it.

(At run time the controller only awaits timing records and summaries; the integration test checks
``controller_imported_torch`` in ``/v1/stats`` after batched traffic.)
"""
import subprocess
import sys

CONTROLLER_MODULES = [
    "alpa_serve_like.runtime.controller_core",
    "alpa_serve_like.runtime.mesh_group",
    "alpa_serve_like.controllers.controller",
    "alpa_serve_like.controllers.serving_controller",
    "alpa_serve_like.controllers.ingress",
    "alpa_serve_like.serve",
]


def test_controller_modules_do_not_import_torch():
    code = "\n".join([*(f"import {m}" for m in CONTROLLER_MODULES),
                      "import sys",
                      "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))",
                      "assert not loaded, loaded[:5]"])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
