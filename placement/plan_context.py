"""What a computed plan records about the problem it was made for (``core.plan.PlanContext``).

``place`` and the runtime's start-up placement both stamp their result with it, so ``simulate``
and ``serve`` later take the device, budget, scheduling options and SLO from the plan itself.
"""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.core.hardware import GiB, ClusterSpec
from alpa_serve_like.core.plan import PlanContext
from alpa_serve_like.placement.memory import MemoryModel, smallest_need
from alpa_serve_like.placement.partitions import enumerate_partitions
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.plan_record import scheduling_record


def plan_context(cluster: ClusterSpec, scheduling: SchedulingOptions, slo: dict,
                 database_fingerprint: str | None = None, unplaced: Sequence[str] = ()) -> PlanContext:
    return PlanContext(
        device=cluster.device_type,
        memory_budget_bytes=int(cluster.memory_budget_bytes),
        scheduling=scheduling_record(scheduling),
        slo=dict(slo),
        database_fingerprint=database_fingerprint,
        unplaced=tuple(unplaced),
    )


def unplaced_models(requested: Sequence[str], plan) -> list[str]:
    """Models of ``requested`` that no group of ``plan`` (a Placement or schedule) hosts."""
    hosted = set(plan.models)
    return [m for m in requested if m not in hosted]


def explain_unplaced(model: str, memory: MemoryModel, cluster: ClusterSpec) -> str:
    """One line: the model, the least memory it needs per device over every group shape of the
    cluster, the budget, and what to change."""
    shapes = {c for p in enumerate_partitions(cluster.num_devices, cluster.devices_per_node, 64, 64) for c in p}
    need = smallest_need(memory, model, shapes)
    budget = f"the memory budget is {memory.budget_bytes / GiB:.2f} GiB per device on {cluster.device_type}"
    if need is None:
        return f"model {model!r} was not placed: it has no profile for any group shape of {cluster.num_devices} devices"
    need_bytes, config = need
    if need_bytes > memory.budget_bytes:
        why = "so it fits no group"
    else:
        why = (f"so it fits alone, but the policy left it out next to the other models on "
               f"{cluster.num_devices} devices")
    return (f"model {model!r} was not placed: it needs at least {need_bytes / GiB:.2f} GiB per device "
            f"(with {config.key}) and {budget}, {why}")
