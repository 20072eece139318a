"""The Controller deployment: one replica that owns the placement's mesh groups and the scheduler.

``ControllerBase`` is a thin shell around ``alpa_serve_like.runtime.controller_core.ControllerCore``:
it builds the mesh groups (Ray placement groups + stage actors), wires Ray's actor-death errors
and Prometheus metrics in, and exposes ``infer`` / ``models`` / ``stats`` / ``health``.
``Controller`` is that class as a handle-only deployment behind the separate ``Ingress`` (the
default); ``serving_controller.ServingController`` is the same class serving HTTP itself.
Exactly one replica: routing and admission need one view of every group's clocks.
"""
from __future__ import annotations

import asyncio
import logging
import os

import ray
from ray import serve

from alpa_serve_like.core.plan import Placement
from alpa_serve_like.profiling.database import ProfilingDatabase
from alpa_serve_like.runtime.controller_core import ControllerCore
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.mesh_group import MeshGroup, StageTransportError, resolve_use_gpu, serve_owner_token
from alpa_serve_like.runtime.metrics import ServeMetrics
from alpa_serve_like.runtime.mig_binding import bind_groups, is_slice, list_instances
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.profiling.instance_profiles import instance_profiles, profiles_per_device
from alpa_serve_like.runtime.requests import InferRequest

logger = logging.getLogger("ray.serve")

ACTOR_FAILURES = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                  ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError, StageTransportError)
"""Errors meaning a stage actor (or an activation it held, or the compiled graph that calls it) is
gone: the group must be recreated."""


DEPLOYMENT_OPTIONS = dict(name="Controller", num_replicas=1, max_ongoing_requests=10_000,
                          ray_actor_options={"num_cpus": 0.1}, health_check_period_s=10,
                          graceful_shutdown_timeout_s=5)


def per_group_device_profiles(placement: Placement, database: ProfilingDatabase, profile_device: str):
    """Profiles per device type when the plan's groups name devices and the database has them all
    (a MIG slice group is then predicted with its slice's latencies); None otherwise, and every group
    is predicted with ``profile_device``'s (a CPU stand-in of a slice plan, say)."""
    if not any(g.device for g in placement.groups):
        return None
    devices = [d or profile_device for d in placement.group_devices()]
    if not set(devices) <= set(database.devices):
        logger.info("alpa_serve_like: plan groups run on %s; the database lacks some, so every group is "
                    "predicted with %s profiles", sorted(set(devices)), profile_device)
        return None
    return profiles_per_device(placement, database, devices)


class ControllerBase:
    """Routes, admits, batches and dispatches requests over the placement's mesh groups."""

    def __init__(self, placement: dict, options: dict, profiles_db: dict):
        self.placement = Placement.from_dict(placement)
        self.options = RuntimeOptions(**options)
        database = ProfilingDatabase.from_plain(profiles_db, where="profiles passed to the controller")
        profiles = instance_profiles(self.placement.models, database, self.options.profile_device)
        by_device = per_group_device_profiles(self.placement, database, self.options.profile_device)
        self.use_gpu = resolve_use_gpu(self.options)
        devices = self.placement.group_devices()
        # Groups on MIG slices: their own instance on GPU (nvidia-smi -L on this node), a CPU share otherwise.
        instances = list_instances() if self.use_gpu and any(is_slice(d) for d in devices) else None
        self.bindings = bind_groups(devices, instances, self.options.cpu_per_device)
        self.owner = serve_owner_token()  # placement-group names unique per app and replica
        self.core = ControllerCore(self.placement, profiles, self.options, self._make_group,
                                   failure_types=ACTOR_FAILURES,
                                   metrics=ServeMetrics(len(self.placement.groups)), profiles_by_device=by_device)
        self.group_info = self.core.start()
        try:  # Serve runs the constructor on the replica's event loop: warm up in the background
            self.core.begin_warm_up()
        except RuntimeError:  # no running loop: the first request or /health begins it
            pass
        logger.info("alpa_serve_like: serving %s on %s devices", self.placement.summary(),
                    "GPU" if self.use_gpu else "CPU")

    def _make_group(self, g: int, generation: int) -> MeshGroup:
        return MeshGroup(g, self.placement.groups[g], self.options, use_gpu=self.use_gpu,
                         generation=generation, owner=self.owner, binding=self.bindings[g])

    async def infer(self, model: str, length: int, tokens: tuple | None, slo_s: float | None,
                    arrival_s: float) -> dict:
        return await self.core.infer(InferRequest(model, length, tokens, slo_s), arrival_s)

    def models(self) -> list[dict]:
        out = []
        for name in self.placement.models:
            spec = instance_spec(name)
            out.append({"name": name, "base": spec.name, "family": spec.family, "seq_len": spec.seq_len,
                        "vocab_size": spec.vocab_size, "groups": self.placement.groups_hosting(name)})
        return out

    async def ping(self) -> bool:
        """Liveness for the separate ingress's ``ControllerWatch`` (async: answered on the loop)."""
        return True

    async def vigil(self, hold_s: float) -> bool:
        """The ingress's long-poll (``ControllerWatch``): held ``hold_s`` (at most 5 s), so that one
        call is always in flight and this replica's death fails it at once."""
        await asyncio.sleep(min(max(float(hold_s), 0.0), 5.0))
        return True

    def stats(self) -> dict:
        out = self.core.snapshot()
        out["placement"] = self.placement.summary()
        out["devices"] = "gpu" if self.use_gpu else "cpu"
        return out

    def health(self) -> dict:
        """``ControllerCore.health``; ``http_common.health_response`` maps it to HTTP."""
        try:
            self.core.begin_warm_up()
        except RuntimeError:
            pass
        return self.core.health()

    def process_id(self) -> int:
        """This replica's process id (fault-injection tests kill it); handle only, not over HTTP."""
        return os.getpid()

    def group_status(self) -> list[dict]:
        """Each group's state (``ControllerCore.group_status``); the ingress's v2 readiness reads it."""
        return self.core.group_status()

    def actor_info(self) -> list[list[dict]]:
        """Where each group's stage actors run (node ids, devices), for tests and debugging."""
        return [self.core.groups[g].backend.info for g in range(len(self.core.groups))]

    def __del__(self):
        core = getattr(self, "core", None)
        if core is not None:
            core.shutdown()


Controller = serve.deployment(**DEPLOYMENT_OPTIONS)(ControllerBase)
"""Handle-only controller, behind ``ingress.Ingress`` (``ingress=separate``, the default)."""
