"""Named rule sets for ``SchedulingOptions``: ``default`` (ours) and ``alpaserve`` (AlpaServe's simulator).

``alpaserve`` reproduces the rules of AlpaServe's simulator (alpa-projects/mms,
``alpa_serve/simulator/controller.py``: ``approximate_one_case_one_placement`` and the numba loop
``simulate_requests_mixed``), found by running it side by side with ours in issue 12 on the same
profiles and requests (``benchmarks/bench_vs_alpaserve.py`` repeats that comparison):

* ``finish_overhead_s=0.011``: a fixed 11 ms added to each request's finish without occupying any
  device; a request is admitted when finish + 11 ms - arrival <= SLO.
* ``pipeline_comm_factor=0.009``: every stage latency of a ``pp``-stage group multiplied by
  ``1 + 0.009 * pp`` (its "penalty" for pipeline communication).
* ``routing="last_stage_free"``: the group whose last stage frees first, the first such group on
  ties (``scheduling.routing.last_stage_free``).
* ``float32_times=True``: stage latencies (after the factor) and SLOs rounded to float32, as its
  arrays are; clocks and arrivals stay float64 in both.

Switching rule sets replaces every field any set controls (``RULE_FIELDS``), so
``with_rules(x, "default")`` turns AlpaServe's rules off again; other fields are kept.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from alpa_serve_like.scheduling.options import SchedulingOptions

RuleSet = Literal["default", "alpaserve"]

RULE_SETS: dict[str, dict] = {
    "default": {},
    "alpaserve": dict(routing="last_stage_free", finish_overhead_s=0.011, pipeline_comm_factor=0.009,
                      float32_times=True),
}
RULE_FIELDS: tuple[str, ...] = tuple(sorted({k for values in RULE_SETS.values() for k in values}))
"""Every ``SchedulingOptions`` field some rule set sets."""


def rule_values(rules: RuleSet) -> dict:
    """Value of every field in ``RULE_FIELDS`` under rule set ``rules`` (the default where it sets none)."""
    if rules not in RULE_SETS:
        raise ValueError(f"unknown rule set {rules!r} (known: {', '.join(sorted(RULE_SETS))})")
    defaults = SchedulingOptions()
    return {k: RULE_SETS[rules].get(k, getattr(defaults, k)) for k in RULE_FIELDS}


def with_rules(options: SchedulingOptions, rules: RuleSet) -> SchedulingOptions:
    """``options`` with every field of ``RULE_FIELDS`` set as rule set ``rules`` says."""
    return dataclasses.replace(options, **rule_values(rules))


def rules_of(options: SchedulingOptions) -> str | None:
    """The rule set ``options`` follow, or None when their rule fields match no set."""
    for name in RULE_SETS:
        if all(getattr(options, k) == v for k, v in rule_values(name).items()):
            return name
    return None
