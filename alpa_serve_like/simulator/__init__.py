"""The cluster simulator: SLO attainment of a placement (or time-switched schedule) on a workload.

Semantics (shared with the runtime through ``alpa_serve_like.scheduling``, whose docstring gives
the routing, admission and batching rules in full):

* Groups are pipelines of ``pp`` FIFO stages with their own clocks; stage latencies come from the
  model's profile at ParallelConfig(1, op, pp) of its group, for the batch size run (a missing
  entry is an error naming the group, model and config).
* Each request goes, at arrival, to one group hosting its model (``earliest_finish`` by default,
  or ``shortest_queue``; ties to the lowest group index). With admission on (default) a request
  predicted to miss its deadline is rejected (reason ``slo``); a model hosted nowhere is rejected
  (``unplaced``). Rejections count as SLO misses.
* Dynamic batching (``max_batch_size > 1``) grows a group's queued tail batch by a request of the
  same model while every member still meets its deadline and the newcomer finishes no later than
  it would alone; groups never idle to wait for a batch to fill.
  Admitted requests therefore always meet their deadline when admission is on.
* Overheads (``dispatch_overhead_s``, ``per_stage_overhead_s``) and warm-up trimming
  (``warmup_s``) are ``SimOptions`` fields.
* Schedules: requests arriving in ``[start_s[i], start_s[i+1])`` use segment ``i``; each segment
  starts with idle clocks, and earlier requests finish on their old groups (switching is free).
* Per-request ``size`` of the workload is not used: every request counts as one batch slot.

Two engines give identical results: ``kernel`` (numba loop over arrays; default) and
``reference`` (event heap driving ``scheduling.Scheduler``). ``PlacementScorer`` scores many
placements on one workload cheaply; ``simulate`` returns a full ``SimResult``.
"""
from alpa_serve_like.simulator.options import SimOptions
from alpa_serve_like.simulator.result import SimResult
from alpa_serve_like.simulator.run import simulate
from alpa_serve_like.simulator.scorer import PlacementScorer, ScoreResult

__all__ = ["PlacementScorer", "ScoreResult", "SimOptions", "SimResult", "simulate"]
