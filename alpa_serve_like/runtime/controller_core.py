"""The controller's logic: route, admit, batch, dispatch, collect, and recover failed groups.

Ray-free on purpose: groups come from an injected factory (``MeshGroup`` in production, fakes in
unit tests), the clock is injected, and the exception types that mean "a stage actor died" are
passed in. Routing, admission, batch formation and group availability are
``alpa_serve_like.scheduling.Scheduler`` (the same code the simulator runs); this class turns its
decisions into real batches. One concern per module:

* ``admission``      shed, route, admit and enqueue a request (``infer``)
* ``dispatch``       per-group dispatchers, doomed-request drops, batch completion, overhead learning
* ``recovery``       failed groups: answer, mark down, recreate, mark up; health checks
* ``warmup``         one batch per model through each group before ``/health`` says ok
* ``introspection``  ``group_status``, ``health`` and ``snapshot`` (``/health``, ``/v1/stats``)

Results are plain dicts with an ``outcome``; the Ray Serve deployments map them to HTTP statuses.
Nothing here ever receives activations (``Submission``), so this process never imports torch.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

import numpy as np

from alpa_serve_like.core import mig
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.core.model_profile import ModelProfile
from alpa_serve_like.core.plan import Placement
from alpa_serve_like.runtime.admission import AdmissionMixin
from alpa_serve_like.runtime.controller_state import GroupFactory, GroupState, NullMetrics, Submission
from alpa_serve_like.runtime.dispatch import DispatchMixin
from alpa_serve_like.runtime.dispatch_order import DispatchOrder
from alpa_serve_like.runtime.introspection import IntrospectionMixin
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.runtime.overheads import OverheadEstimator
from alpa_serve_like.runtime.recovery import RecoveryMixin
from alpa_serve_like.runtime.stats import RuntimeStats
from alpa_serve_like.runtime.warmup import WarmUpMixin
from alpa_serve_like.scheduling import LatencyCorrection, Scheduler, StageLatencyCache, build_latency_tables
from alpa_serve_like.scheduling.partition_tables import tables_from_device_profiles

__all__ = ["ControllerCore", "GroupFactory", "NullMetrics", "Submission"]


class ControllerCore(AdmissionMixin, DispatchMixin, RecoveryMixin, WarmUpMixin, IntrospectionMixin):
    """Serves ``placement`` with groups from ``group_factory``; see the module docstring."""

    def __init__(self, placement: Placement, profiles: dict[str, ModelProfile], options: RuntimeOptions,
                 group_factory: GroupFactory, *, clock: Callable[[], float] = time.time,
                 failure_types: tuple[type, ...] = (), rng: np.random.Generator | None = None,
                 metrics=None, profiles_by_device: dict[str, dict[str, ModelProfile]] | None = None):
        for g, group in enumerate(placement.groups):
            if not group.models:
                raise ValueError(f"placement group {g} hosts no model; drop it from the placement")
        self.placement = placement
        self.options = options
        self.model_names = placement.models
        self.model_index = {m: i for i, m in enumerate(self.model_names)}
        self.specs = {m: instance_spec(m) for m in self.model_names}
        sched = options.scheduling
        if profiles_by_device is not None:  # groups on their own device types (MIG slices, other GPUs)
            devices = [d or options.profile_device for d in placement.group_devices()]
            tables = tables_from_device_profiles(
                self.model_names, devices, [g.models for g in placement.groups], profiles_by_device,
                sched.max_batch_size, [mig.compute_slices_of(d) for d in devices], [g.config for g in placement.groups])
        else:
            tables = build_latency_tables(placement, self.model_names, StageLatencyCache(profiles, sched.max_batch_size))
        correction = None
        if options.correction_alpha > 0:
            correction = LatencyCorrection(len(tables.replica_group), int(tables.num_stages.max()),
                                           alpha=options.correction_alpha,
                                           half_life_s=options.correction_half_life_s)
        self.scheduler = Scheduler(tables, sched, correction=correction)
        self.order = DispatchOrder(sched)
        self.overheads = (OverheadEstimator(options.overhead_alpha, quantile=options.admission_quantile or None)
                          if options.overhead_alpha > 0 else None)
        self.factory = group_factory
        self.clock = clock
        self.failure_types = tuple(failure_types)
        self.rng = rng if rng is not None else np.random.default_rng(options.seed)
        self.metrics = metrics or NullMetrics()
        self.stats = RuntimeStats(self.model_names)
        self.stats_since_s = clock()
        """When these statistics began: they live in this controller replica, so a restarted
        controller starts them afresh, and ``/v1/stats`` says so by a later ``stats_since_s``."""
        self.groups: list[GroupState] = []
        self.pending = 0
        """Admitted requests not answered yet (``max_pending_requests`` sheds above it)."""
        self.dropped_at_dispatch = 0
        self._overheads_applied_s = -float("inf")
        self._tasks: set[asyncio.Task] = set()
        self._loops_started = False
        self._warm_up_task: asyncio.Future | None = None

    # ---- life cycle ----------------------------------------------------------------------------
    def start(self) -> list[list[dict]]:
        """Start every group (blocking); returns each group's actor info."""
        infos = []
        try:
            for g, group in enumerate(self.placement.groups):
                backend = self.factory(g, 0)
                self.groups.append(GroupState(backend, group.config.pp))
                infos.append(backend.start())
        except BaseException:
            self.shutdown()
            raise
        start_s = self.clock()
        for g, st in enumerate(self.groups):
            st.warm = not self.options.warm_up  # else warmed by ``begin_warm_up``
            self.scheduler.mark_up(g, start_s)
            self.metrics.on_group_state(g, True)
        return infos

    def _ensure_loops(self) -> None:
        """Start dispatcher and health tasks on the running event loop (first request)."""
        if self._loops_started:
            return
        self._loops_started = True
        self.begin_warm_up()  # normally begun by the deployment's constructor already
        for g, st in enumerate(self.groups):
            st.wake = asyncio.Event()
            self._spawn(self._dispatch_loop(g))
        if self.options.health_check_period_s > 0:
            self._spawn(self._health_loop())

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for st in self.groups:
            for batch in list(st.batches.values()):
                self._answer_batch_error(batch, "shutdown", "the server is shutting down")
            st.backend.shutdown()
