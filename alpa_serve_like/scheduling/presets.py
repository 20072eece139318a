"""Named rule sets for ``SchedulingOptions``: ``default`` (ours) and ``alpaserve`` (AlpaServe's simulator).

``alpaserve`` reproduces three rules of AlpaServe's simulator (alpa-projects/mms,
``alpa_serve/simulator``), as measured side by side with it in issue 12 on the same profiles and
requests: a fixed 11 ms per-request overhead added to the finish without occupying any device
(admitted when finish + overhead - arrival <= SLO), every stage latency multiplied by
``1 + 0.009 * pp`` for pipeline communication, and routing to the group whose last stage frees
first (first group on ties). Its float32 request arrays are not reproduced: times stay float64.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from alpa_serve_like.scheduling.options import SchedulingOptions

RuleSet = Literal["default", "alpaserve"]

RULE_SETS: dict[str, dict] = {
    "default": {},
    "alpaserve": dict(routing="last_stage_free", finish_overhead_s=0.011, pipeline_comm_factor=0.009),
}


def with_rules(options: SchedulingOptions, rules: RuleSet) -> SchedulingOptions:
    """``options`` with the fields of rule set ``rules`` replaced (``default`` changes nothing)."""
    if rules not in RULE_SETS:
        raise ValueError(f"unknown rule set {rules!r} (known: {', '.join(sorted(RULE_SETS))})")
    return dataclasses.replace(options, **RULE_SETS[rules])
