"""The JSON report every runtime benchmark ends with: printed, and written to ``--json`` if given."""
from __future__ import annotations

import json


def emit_report(report: dict, json_path: str | None) -> None:
    """Print ``report`` as indented JSON and, when ``json_path`` is set, write the same text there."""
    text = json.dumps(report, indent=1)
    print(text)
    if json_path:
        with open(json_path, "w") as f:
            f.write(text + "\n")
