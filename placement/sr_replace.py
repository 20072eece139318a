"""sr-replace-T ("Clockwork++"): selective replication re-planned every T seconds.

Source: AlpaServe section 6's strengthened Clockwork baseline: the placement is recomputed with
sr-greedy on each T-second window and switched at the window boundary (switching is free).
Planning discipline: by default window k is planned from the traffic observed in window k-1 (an
online system cannot see the future) and the first window from the training workload; with
``options.oracle`` each window is planned on its own traffic, as the paper's evaluation did.
The result is a ``PlacementSchedule`` the simulator switches at the window starts.

``observed`` is the traffic the schedule will run on (the evaluation workload when evaluating);
without it the schedule covers the training workload's own windows.
"""
from __future__ import annotations

import numpy as np

from alpa_serve_like.core.plan import PlacementSchedule
from alpa_serve_like.core.workload import slice_time
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.sr_greedy import fill_single_devices


@register_policy("sr-replace", param="window_s", online=True)
def sr_replace(cluster, models, profiles, train_workload, options, rng, *, window_s: int, observed=None):
    """Clockwork++: sr-greedy re-run every T s (planned from the previous window unless oracle)."""
    traffic = observed if observed is not None else train_workload
    if len(traffic) == 0:
        raise ValueError("sr-replace: the workload to schedule has no requests")
    # Windows start at 0 (a workload's span starts there) unless arrivals are negative.
    t0 = min(0.0, float(traffic.arrival_s[0]))
    num_windows = max(1, int(np.ceil((max(traffic.span_s, float(traffic.arrival_s[-1])) - t0) / window_s)))
    starts, segments = [], []
    previous = None
    for k in range(num_windows):
        start = t0 + k * window_s
        if options.oracle:
            plan_on = slice_time(traffic, start, start + window_s)  # rebased: rates over the window
        elif k == 0:
            plan_on = train_workload
        else:
            plan_on = slice_time(traffic, start - window_s, start)
        if len(plan_on) == 0 and previous is not None:
            placement = previous  # nothing observed: keep what is there
        else:
            problem = PlacementProblem(cluster, models, profiles, plan_on, options)
            placement = fill_single_devices(problem).to_placement(
                {"policy": f"sr-replace-{window_s}", "window": k, "oracle": options.oracle})
        starts.append(start)
        segments.append(placement)
        previous = placement
    return PlacementSchedule(start_s=tuple(starts), segments=tuple(segments))
