"""Routing, admission and batching of requests over a placement's groups: one code path for the
simulator's reference implementation and the Ray runtime's controller (pure Python, no Ray/torch).

Semantics (the numba kernel in ``alpa_serve_like.simulator.kernel`` repeats them in arrays):

* Each group of a placement is a pipeline of ``pp`` stages; each stage is a FIFO resource whose
  clock says when it finishes the work committed so far. Stage ``s`` of model ``m`` on group ``g``
  at batch ``b`` takes the profiled latency of ``m`` at ParallelConfig(1, op_g, pp_g) (``tables``).
* A request arriving at ``t`` can start stage 0 at ``t + dispatch_overhead_s``. Prediction on a
  group: ``start_0 = max(t + dispatch, free[0])``, ``finish_s = start_s + lat_s + per_stage_overhead_s``,
  ``start_{s+1} = max(finish_s, free[s+1])``.
* Routing (``routing``): among the groups hosting the model, in ascending group order, a named
  policy picks one: ``earliest_finish`` (default), ``shortest_queue`` (fewest outstanding
  requests), ``elsa`` (the smallest group, by ``LatencyTables.group_compute``, with enough SLO
  slack; reference simulator and runtime only) or ``last_stage_free`` (earliest last-stage clock,
  AlpaServe's simulator); ties go to the lowest group index.
* Admission (on by default): if the chosen group's predicted finish plus ``finish_overhead_s``
  (0 by default; time after the last stage that occupies no device) is after the deadline, reject
  with reason ``slo``; a model hosted nowhere is rejected with ``unplaced``. Admitted requests
  commit their stage times (``free[s] = finish_s``).
* ``pipeline_comm_factor`` f (0 by default) multiplies every stage latency of a ``pp``-stage group
  by ``1 + f * pp`` when the tables are built; ``float32_times`` then rounds the latencies, and
  the simulator the SLOs, to float32. ``presets.with_rules(options, "alpaserve")`` sets AlpaServe's
  simulator rules (11 ms finish overhead, f = 0.009, ``last_stage_free``, float32 times).
* Batching (``max_batch_size > 1``): a group's last committed batch (its tail) grows by one request
  of the same model if it has room, has not been dispatched, starts strictly after the newcomer's
  ``t + dispatch`` (so its start time is unchanged), and, re-timed from the clocks before it with
  the larger batch's latency, still finishes by the earliest deadline of its current members and
  no later than the request would finish as a new batch of one behind the tail (otherwise it does
  exactly that). Unprofiled batch sizes are interpolated linearly between profiled ones. Batches form only from requests
  that queue anyway: a group never idles waiting for a batch to fill. Because a batch only grows
  while every member still meets its deadline, admission at arrival stays exact: the predicted
  finish of an admitted request can move later only up to the deadline of the batch it is in.
* Feedback (runtime): ``complete_batch`` when results are back (outstanding counts),
  ``observe_stage`` with measured stage times (clock correction and EWMA latency scale factors,
  which fade back to the profile while a stage reports nothing: ``correction``).
"""
from alpa_serve_like.scheduling.clocks import GroupClocks, stage_times
from alpa_serve_like.scheduling.correction import LatencyCorrection
from alpa_serve_like.scheduling.options import SchedulingOptions
from alpa_serve_like.scheduling.reasons import RejectReason
from alpa_serve_like.scheduling.routing import Candidate, RoutingPolicy, register_routing, resolve_routing, routing_names
from alpa_serve_like.scheduling.scheduler import Decision, Rejection, Scheduler
from alpa_serve_like.scheduling.tables import LatencyTables, StageLatencyCache, build_latency_tables

__all__ = [
    "Candidate",
    "Decision",
    "GroupClocks",
    "LatencyCorrection",
    "LatencyTables",
    "Rejection",
    "RejectReason",
    "RoutingPolicy",
    "Scheduler",
    "SchedulingOptions",
    "StageLatencyCache",
    "build_latency_tables",
    "register_routing",
    "resolve_routing",
    "routing_names",
    "stage_times",
]
