"""SchedulingOptions: the knobs of routing and admission, identical in the simulator and the runtime."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from alpa_serve_like.scheduling.disciplines import PURE_SRPT_THRESHOLD, QueueDiscipline, resolve_discipline
from alpa_serve_like.scheduling.routing import RoutingPolicy, resolve_routing


@dataclass(frozen=True)
class SchedulingOptions:
    """How a request is routed to a group, admitted, and batched."""

    routing: RoutingPolicy = "earliest_finish"
    """Name of a routing policy in ``scheduling.routing`` (earliest predicted finish by default).
    Used under ``fcfs`` only: under srpt/edf routing is ``DISCIPLINE_ROUTING`` (see ``discipline``)."""
    admission: bool = True
    """Reject at arrival a request whose predicted finish is after its deadline."""
    max_batch_size: int = 1
    """Largest batch a group runs; 1 disables batching."""
    dispatch_overhead_s: float = 0.0
    """Time from arrival until the request can start on stage 0 (controller + network)."""
    per_stage_overhead_s: float = 0.0
    """Added to every stage's profiled latency (activation transfer, launch)."""
    batch_join_slack_s: float = 1e-9
    """A request joins a queued batch if that makes it finish at most this much later than running
    alone behind it. Absorbs float rounding when batch latency is linear in the batch size (then
    both choices tie and joining is preferred)."""
    drop_doomed_at_dispatch: bool = False
    """Drop a queued request when its batch is dispatched if it can no longer meet its deadline
    (never spend compute on a doomed request). The runtime turns it on; the simulator, whose
    predictions are exact, models it as a rejection at arrival with reason ``doomed`` when
    admission is off (with admission on nothing admitted is ever doomed there)."""
    finish_overhead_s: float = 0.0
    """Added to each request's finish after its last stage without occupying any stage (result
    transfer, response path); admission and batching compare ``finish + finish_overhead_s`` with
    the deadline. AlpaServe's simulator uses such a fixed overhead (see ``scheduling.presets``)."""
    pipeline_comm_factor: float = 0.0
    """Every stage latency of a group with ``pp`` stages is multiplied by ``1 + factor * pp``
    (pipeline communication); applied once when the latency tables are built."""
    float32_times: bool = False
    """Round stage latencies (after ``pipeline_comm_factor``) and SLOs to float32 before simulating,
    as AlpaServe's simulator stores them (``scheduling.presets``); clocks stay float64. Like
    ``pipeline_comm_factor`` it shapes the simulator's (and so the optimizer's) tables only; the
    runtime's controller builds its own from the profiles."""
    discipline: QueueDiscipline = "fcfs"
    """Order in which each stage of a group serves its waiting work (``scheduling.disciplines``):
    ``fcfs`` (arrival order; admission predictions are exact), ``srpt`` (Paella's shortest estimated
    remaining work, re-decided at every stage boundary) or ``edf`` (earliest deadline). Under
    ``srpt``/``edf`` later arrivals may overtake, so lateness is decided when a stage is dispatched
    (see ``simulator.discipline_reference``), not predicted at arrival. Routing is then
    ``DISCIPLINE_ROUTING`` (fewest outstanding requests) whatever ``routing`` says, in the
    simulator and the runtime alike (``effective_routing``). Where the two differ: the simulator
    applies the discipline at every stage of every group, while the live runtime's operator-parallel
    groups (op > 1) keep Ray's FIFO in their stage actors (their ``op`` ranks must run calls in one
    agreed order), so there only the controller's choice of the next batch follows the discipline."""
    fairness_threshold: float = PURE_SRPT_THRESHOLD
    """Paella's U for ``srpt``: a model whose deficit credit reaches U is served next. The default
    (1e6, Paella's) is pure SRPT; smaller values trade short models' latency for long models'."""

    def __post_init__(self):
        resolve_routing(self.routing)  # fails with the list of known policies
        resolve_discipline(self.discipline)  # likewise
        object.__setattr__(self, "fairness_threshold", float(self.fairness_threshold))
        if not (self.fairness_threshold >= 0.0):
            raise ValueError(f"fairness_threshold must be >= 0 (1e6 = pure SRPT), got {self.fairness_threshold!r}")
        if not isinstance(self.max_batch_size, int) or self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be an int >= 1, got {self.max_batch_size!r}")
        for name in ("dispatch_overhead_s", "per_stage_overhead_s", "batch_join_slack_s", "finish_overhead_s",
                     "pipeline_comm_factor"):
            value = getattr(self, name)
            if not (value >= 0.0) or value == float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready fields (the plan file stores the options it was optimised under)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SchedulingOptions":
        """Inverse of ``to_dict``; missing keys take their defaults, unknown keys fail by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown scheduling options {unknown} (known: {sorted(known)})")
        return cls(**data)
