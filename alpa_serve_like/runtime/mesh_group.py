"""Mesh group: the Ray resources of one placement group (devices, stage actors) and its dispatch.

One Ray placement group per group of the Placement, one bundle per device (``{"GPU": 1}`` on GPU
clusters, a small CPU bundle otherwise), STRICT_PACK so a group's devices share a node. Bundle
``s * op + r`` holds the actor of stage ``s``, op rank ``r``. ``submit`` chains a batch through the
stages by passing ObjectRefs, so activations go actor to actor without visiting the controller; the
refs it hands the controller resolve to small values only (timing records, the last stage's summary).
Groups of one op rank under fcfs are called over local sockets instead (``socket_stages``: the
controller writes to stage 0, each stage to the next, the last answers), or, with one stage, over a
Ray compiled graph (``compiled_stages``), as ``RuntimeOptions.stage_transport`` says; the answer
is the same small summary.

A group on a MIG slice has one device and a ``GroupBinding`` (``runtime/mig_binding.py``): its
bundle asks for the custom resource of its instance (``mig:3g.40gb``) instead of a GPU, and its
actor gets the instance's UUID in ``CUDA_VISIBLE_DEVICES``; on CPU the bundle is the slice's
share of CPUs.
"""
from __future__ import annotations

import asyncio
import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from alpa_serve_like.core.plan import GroupPlacement
from alpa_serve_like.runtime.compiled_stages import CompiledStage
from alpa_serve_like.runtime.controller_state import Submission, settled_when_done
from alpa_serve_like.runtime.mig_binding import GroupBinding
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.runtime.socket_stages import SocketStage
from alpa_serve_like.runtime.stage_worker import OrderedStageWorker, StageWorker


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class MeshGroupError(RuntimeError):
    """A mesh group could not start, or one of its actors failed."""


class StageTransportError(MeshGroupError):
    """A group's direct call path failed (its stage actor died: the socket or a channel closed)."""


def cluster_has_gpus() -> bool:
    return ray.cluster_resources().get("GPU", 0) > 0


def resolve_use_gpu(options: RuntimeOptions) -> bool:
    """``device=auto`` means GPU bundles exactly when the Ray cluster has GPUs."""
    if options.device == "auto":
        return cluster_has_gpus()
    return options.device == "gpu"


def placement_group_name(owner: str, group_id: int, generation: int) -> str:
    """Ray placement-group name of group ``group_id``, incarnation ``generation``, of ``owner``.

    Ray names are cluster-wide, so the name carries its owner (``serve_owner_token``: the Serve app
    and the controller replica's unique id): two apps, or a new controller replica that starts
    while the old one's groups are still being freed, never ask for the same name.
    """
    if not owner or any(c.isspace() for c in owner):
        raise ValueError(f"placement-group owner token must be non-empty without spaces, got {owner!r}")
    return f"alpa-serve-like.{owner}.group{group_id}.gen{generation}"


def serve_owner_token() -> str:
    """``<app>.<replica unique id>`` inside a Serve replica; ``local.<random hex>`` outside one."""
    try:
        from ray import serve

        ctx = serve.get_replica_context()
        return f"{ctx.app_name or 'default'}.{ctx.replica_id.unique_id}"
    except Exception:  # not in a replica (local mode, tests): any token unique to this process
        import uuid

        return f"local.{uuid.uuid4().hex[:12]}"


class MeshGroup:
    """Group ``group_id`` of the placement, incarnation ``generation`` (bumped on each recreation),
    of ``owner`` (see ``placement_group_name``; default: ``serve_owner_token()``); ``binding``
    puts a one-device group on its MIG instance or CPU share (``mig_binding.bind_groups``)."""

    def __init__(self, group_id: int, group: GroupPlacement, options: RuntimeOptions, *,
                 use_gpu: bool, generation: int = 0, owner: str = "", binding: GroupBinding | None = None):
        self.group_id = group_id
        self.owner = owner or serve_owner_token()
        self.group = group
        self.options = options
        self.use_gpu = use_gpu
        self.generation = generation
        self.op, self.pp = group.config.op, group.config.pp
        if binding is not None and self.op * self.pp != 1:
            raise MeshGroupError(f"mesh group {group_id} on {binding.device_type} has {self.op * self.pp} devices; "
                                 "a group bound to a MIG instance has one (instances cannot form a mesh)")
        self.binding = binding
        self.pg = None
        self.actors: list[list] = []  # [stage][op rank]
        self.info: list[dict] = []
        self.direct_stage: CompiledStage | SocketStage | None = None
        """The call path of a ``direct()`` group that skips actor calls (``_direct_links``)."""

    # ---- life cycle ----------------------------------------------------------------------------
    def bundle(self) -> dict:
        if self.binding is not None:
            out = {k: float(v) for k, v in self.binding.bundle.items()}
            if "CPU" not in out and self.options.cpu_per_device > 0:
                out["CPU"] = float(self.options.cpu_per_device)
            return out
        if self.use_gpu:
            out = {"GPU": float(self.options.gpu_per_device)}
            if self.options.cpu_per_device > 0:
                out["CPU"] = float(self.options.cpu_per_device)
            return out
        return {"CPU": max(float(self.options.cpu_per_device), 0.01)}

    def _create_placement_group(self):
        bundles = [self.bundle() for _ in range(self.op * self.pp)]
        self.pg = placement_group(bundles, strategy=self.options.strategy,
                                  name=placement_group_name(self.owner, self.group_id, self.generation))
        return self.pg.ready()

    def actor_options(self) -> dict:
        """Resources and environment of every stage actor: its bundle's, and the binding's env."""
        bundle = self.bundle()
        out = {"num_cpus": bundle.get("CPU", 0.0), "num_gpus": bundle.get("GPU", 0.0)}
        custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
        if custom:
            out["resources"] = custom
        if self.binding is not None:
            out["runtime_env"] = {"env_vars": self.binding.env_vars}
        return out

    def ordered(self) -> bool:
        """Whether stage actors order their ready calls by the discipline (``OrderedStageWorker``):
        any discipline but fcfs, on op = 1 groups (op ranks must agree on the order, so an
        operator-parallel group keeps Ray's FIFO)."""
        return self.options.scheduling.discipline != "fcfs" and self.op == 1

    def direct(self) -> bool:
        """Whether calls skip Ray's actor calls (``RuntimeOptions.stage_transport``): under fcfs on
        op = 1 groups, where each stage's FIFO is the order actor calls would get; ``socket`` for
        any number of stages (a chain of links, ``socket_stages``), ``compiled_graph`` for one
        stage (where the answer is stage 0's only result)."""
        if self.op != 1 or self.ordered():
            return False
        transport = self.options.stage_transport
        return transport == "socket" or (transport == "compiled_graph" and self.pp == 1)

    def _direct_links(self) -> list[tuple]:
        """The ``link_next`` calls (stage actor, next stage's address) that chain a socket group
        whose stages all run on this node; sets ``direct_stage``. Empty otherwise: then the group
        keeps actor calls (a stage elsewhere, or a platform without the sockets, ``build`` says)."""
        if not self.direct():
            return []
        if self.options.stage_transport == "compiled_graph":
            self.direct_stage = CompiledStage(self.actors[0][0], StageTransportError)
            return []
        here = ray.get_runtime_context().get_node_id()
        addresses = [info.get("socket", "") for info in self.info]
        if not all(addresses) or any(info["node_id"] != here for info in self.info):
            return []
        self.direct_stage = SocketStage(addresses, StageTransportError)
        return [(ranks[0], addresses[s + 1]) for s, ranks in enumerate(self.actors[:-1])]

    def _create_actors(self) -> None:
        sched = self.options.scheduling
        ordered = self.ordered()
        actor_cls = ray.remote(OrderedStageWorker if ordered else StageWorker)
        extra = dict(discipline=sched.discipline, fairness_threshold=sched.fairness_threshold) if ordered else {}
        resources = self.actor_options()
        self.actors = []
        for stage in range(self.pp):
            ranks = []
            for rank in range(self.op):
                strategy = PlacementGroupSchedulingStrategy(
                    placement_group=self.pg, placement_group_bundle_index=stage * self.op + rank)
                ranks.append(actor_cls.options(
                    **resources, max_restarts=0, max_task_retries=0, scheduling_strategy=strategy,
                ).remote(self.group_id, stage, self.pp, list(self.group.models),
                         seed=self.options.seed, use_gpu=self.use_gpu,
                         torch_threads=self.options.torch_threads, op_rank=rank, op_size=self.op,
                         checkpoints=self.checkpoints(), checkpoint_naming=self.options.checkpoint_naming,
                         **extra))
            self.actors.append(ranks)

    def checkpoints(self) -> dict[str, str]:
        """Checkpoint file of each of this group's models that has one (the others stay random)."""
        paths = {m: self.options.checkpoint_for(m) for m in self.group.models}
        return {m: p for m, p in paths.items() if p}

    def _startup_error(self, what: str) -> MeshGroupError:
        if self.binding is not None:
            return MeshGroupError(
                f"mesh group {self.group_id} on {self.binding.device_type} (bundle {self.bundle()}) {what} "
                f"within {self.options.startup_timeout_s:.0f} s; cluster resources: {ray.cluster_resources()}. "
                f"A node must advertise one free unit of each MIG resource a group asks for "
                f"(ray start --resources '{{\"mig:<profile>\": <instances>}}')")
        return MeshGroupError(
            f"mesh group {self.group_id} ({self.op * self.pp} devices of {self.bundle()}, "
            f"{self.options.strategy}) {what} within {self.options.startup_timeout_s:.0f} s; "
            f"cluster resources: {ray.cluster_resources()}. Check that each node has enough "
            f"{'GPUs' if self.use_gpu else 'CPUs'} for one group (or use strategy=PACK)"
        )

    def start(self) -> list[dict]:
        """Create the placement group and stage actors and build every stage (blocking)."""
        timeout = self.options.startup_timeout_s
        try:
            ray.get(self._create_placement_group(), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self.shutdown()
            raise self._startup_error("could not be placed") from None
        self._create_actors()
        try:
            build_refs = self._build_refs(lambda refs: ray.get(refs, timeout=timeout))
            self.info = ray.get(build_refs, timeout=timeout)
            ray.get([actor.link_next.remote(address) for actor, address in self._direct_links()], timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self.shutdown()
            raise self._startup_error("stage actors did not start") from None
        except ray.exceptions.RayTaskError as exc:  # e.g. a checkpoint that does not fit its model
            self.shutdown()
            raise self._build_error(exc) from None
        return self.info

    def _build_error(self, exc) -> MeshGroupError:
        cause = getattr(exc, "cause", None) or exc
        return MeshGroupError(f"mesh group {self.group_id} ({', '.join(self.group.models)}): a stage actor "
                              f"could not build its models: {type(cause).__name__}: {cause}")

    async def start_async(self) -> list[dict]:
        """``start`` without blocking the event loop (used when recreating a failed group)."""
        timeout = self.options.startup_timeout_s
        try:
            await asyncio.wait_for(self._create_placement_group(), timeout)
            self._create_actors()

            async def fetch(refs):
                return await asyncio.wait_for(asyncio.gather(*refs), timeout)

            rendezvous = await fetch(self._rendezvous_refs())
            self.info = await fetch(self._build_with(rendezvous))
            await fetch([actor.link_next.remote(address) for actor, address in self._direct_links()])
        except asyncio.TimeoutError:
            self.shutdown()
            raise self._startup_error("could not be restarted") from None
        except ray.exceptions.RayTaskError as exc:
            self.shutdown()
            raise self._build_error(exc) from None
        return self.info

    def _rendezvous_refs(self) -> list:
        if self.op == 1:
            return []
        same_node = self.options.strategy == "STRICT_PACK"
        return [ranks[0].rendezvous_address.remote(same_node) for ranks in self.actors]

    def _build_with(self, rendezvous: list) -> list:
        serve_socket = self.direct() and self.options.stage_transport == "socket"
        refs = []
        for stage, ranks in enumerate(self.actors):
            address = rendezvous[stage] if rendezvous else None
            refs += [actor.build.remote(address, serve_socket) for actor in ranks]
        return refs

    def _build_refs(self, fetch) -> list:
        rendezvous = fetch(self._rendezvous_refs()) if self.op > 1 else []
        return self._build_with(rendezvous)

    def shutdown(self) -> None:
        """Kill every actor and free the placement group (safe to call twice)."""
        direct, self.direct_stage = self.direct_stage, None
        for ranks in self.actors:
            for actor in ranks:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # already dead: nothing to free
                    pass
        self.actors = []
        if isinstance(direct, CompiledStage):  # after the kills: a graph on dead actors tears down at once
            direct.teardown()
        elif direct is not None:
            direct.close()
        if self.pg is not None:
            try:
                remove_placement_group(self.pg)
            except Exception:
                pass
            self.pg = None

    # ---- serving -------------------------------------------------------------------------------
    def submit(self, model: str, tokens, ticket: dict | None = None) -> Submission:
        """Chain one batch (int64 token ids ``[batch, seq]``) through every stage; ``ticket``
        (``stage_queue.ticket_for``) lets ordered stage actors rank it."""
        if not self.actors:
            raise MeshGroupError(f"mesh group {self.group_id} has no actors (it is shut down)")
        payload = {"x": tokens, "timings": []}
        if self.direct_stage is not None and _has_running_loop():
            if isinstance(self.direct_stage, SocketStage):
                first, last = self.direct_stage.call(model, payload, ticket)
                return Submission(first=first, last=last)
            answer = self.direct_stage.call(model, payload, ticket)
            return Submission(first=settled_when_done(answer), last=answer)
        # Outside an event loop (a script's ``ray.get(group.submit(...).last)``) the refs of actor
        # calls are the answer: a socket's or compiled graph's answers can only be awaited on a loop.
        if self.op > 1:
            payload = ray.put(payload)  # every rank of stage 0 reads the same object
        first = None
        others = []
        for stage, ranks in enumerate(self.actors):
            others += [rank.run.options(num_returns=2).remote(model, payload, ticket)[1] for rank in ranks[1:]]
            if stage > 0 or self.pp == 1:
                # Rank 0 of a later stage, or of the only one: one result, the payload (its timing
                # record rides in it); stage 0 of a one-stage group is free once its payload is back.
                payload = ranks[0].run_payload.remote(model, payload, ticket)
                first = payload if first is None else first
                continue
            # Two results per call: the payload (activations, for the next stage only) and the
            # stage's timing record (small: the only thing the controller awaits before the end).
            payload, first = ranks[0].run.options(num_returns=2).remote(model, payload, ticket)
        return Submission(first=first, last=payload, others=tuple(others))

    async def check_alive(self) -> None:
        """Raise (a Ray actor error) if any stage actor is dead."""
        await asyncio.gather(*(actor.ping.remote() for ranks in self.actors for actor in ranks))

    def node_ids(self) -> list[str]:
        """Node of each device, in bundle order (after ``start``)."""
        return [i["node_id"] for i in self.info]
