"""The stage actor: one pipeline stage (on one device) of every model a mesh group hosts.

A plain class; ``mesh_group`` turns it into a Ray actor pinned to a placement-group bundle. Calls
chain through the object store: ``run`` has two results (``num_returns=2``), the payload for the
next stage and a small timing record; ``run_payload`` only the payload, for calls whose timing
record nobody awaits. The controller passes stage ``s``'s payload ObjectRef
straight into stage ``s+1``'s call and only ever awaits timing records and the last stage's
summary, so activations never reach the controller (awaiting one would deserialize a tensor there,
importing torch into the controller process and moving megabytes per batch on real models).
Every stage appends its own timing to the payload, which is how responses carry a per-stage
breakdown.

Payloads are plain dicts: ``{"x": tensor | ndarray, "timings": [StageTiming dict, ...]}``. Stage 0
takes int64 token ids; the last stage returns ``{"summary": [per-request dict], "timings": [...]}``.
With op > 1 a stage is ``op`` actors in one torch.distributed (gloo/NCCL) group that all receive
the same input; rank 0's result feeds the next stage, the others return only their timing.

Weights are random (from the seed and the instance name) unless ``checkpoints`` names a file for a
model: then ``build`` reads it (``models.checkpoint``) and keeps this stage's layers and this op
rank's shard only; a file that does not fit the model fails ``build`` with a ``CheckpointError``
naming the file and every missing, unknown or mis-shaped tensor.
"""
from __future__ import annotations

import os
import socket
import time

SUMMARY_HEAD = 4
"""How many leading output features a response shows (outputs are [hidden] vectors)."""


class StageWorker:
    """Stage ``stage`` of ``pp`` (rank ``op_rank`` of ``op_size``) of the models ``models``."""

    def __init__(self, group_id: int, stage: int, pp: int, models: list[str], *, seed: int,
                 use_gpu: bool, torch_threads: int, op_rank: int = 0, op_size: int = 1,
                 checkpoints: dict[str, str] | None = None, checkpoint_naming: str = "auto"):
        import torch

        torch.set_num_threads(int(torch_threads))
        self.group_id, self.stage, self.pp = group_id, stage, pp
        self.op_rank, self.op_size = op_rank, op_size
        self.model_names = list(models)
        self.seed = seed
        self.checkpoints = dict(checkpoints or {})  # model -> local file; absent: random weights
        self.checkpoint_naming = checkpoint_naming
        self.device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
        self.modules: dict = {}
        self.socket_server = None  # a socket_stages.StageSocketServer once build serves one

    # ---- set-up --------------------------------------------------------------------------------
    def rendezvous_address(self, same_node: bool = False) -> str:
        """Rendezvous of this stage's op group (asked of rank 0 before ``build``). On one node (a
        STRICT_PACK group) a file: torch's TCP store would listen on every interface (checked with
        ``ss``), a file store listens nowhere. Across nodes, a TCP store on this node's loopback."""
        if same_node:
            import tempfile
            import uuid

            return f"file://{tempfile.gettempdir()}/alpa-serve-like-rendezvous-{uuid.uuid4().hex}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"tcp://127.0.0.1:{port}"

    def build(self, rendezvous: str | None = None, serve_socket: bool = False) -> dict:
        """Join the op group (if op > 1) and build this stage of every model; returns where it runs.
        ``serve_socket``: also serve ``run_payload`` on a local socket (``socket_stages``), whose
        address the answer's ``socket`` gives (empty where the platform has none)."""
        import ray
        import torch

        from alpa_serve_like.models import TensorParallel, build_stage
        from alpa_serve_like.models.checkpoint import load_checkpoint
        from alpa_serve_like.core.instances import instance_seed, instance_spec

        tp = TensorParallel()
        if self.op_size > 1:
            import torch.distributed as dist

            backend = "nccl" if self.device == "cuda" else "gloo"
            dist.init_process_group(backend, init_method=rendezvous, rank=self.op_rank,
                                    world_size=self.op_size)
            tp = TensorParallel(rank=self.op_rank, size=self.op_size)
        weight_bytes = 0
        read = {}  # (path, base model) -> Checkpoint: instances sharing a file read it once
        for name in self.model_names:
            spec, path = instance_spec(name), self.checkpoints.get(name, "")
            if path and (path, spec.name) not in read:
                read[path, spec.name] = load_checkpoint(path, spec, self.checkpoint_naming)
            module = build_stage(spec, self.pp, self.stage, seed=instance_seed(name, self.seed),
                                 device=self.device, tp=tp, checkpoint=read.get((path, spec.name)))
            weight_bytes += module.weight_bytes
            self.modules[name] = module
            self._warm_up(module)
        return {
            "group": self.group_id, "stage": self.stage, "op_rank": self.op_rank,
            "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
            "device": self.device, "weight_bytes": weight_bytes,
            "checkpoints": {name: self.checkpoints[name] for name in self.model_names if name in self.checkpoints},
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "cuda": torch.cuda.is_available(),
            "socket": self._serve_socket() if serve_socket else "",
        }

    def _serve_socket(self) -> str:
        from alpa_serve_like.runtime.socket_stages import StageSocketServer, supported

        if not supported():
            return ""
        if self.socket_server is None:
            self.socket_server = StageSocketServer(self._run, self.stage, self.pp)
        return self.socket_server.address

    def link_next(self, address: str) -> None:
        """Send this stage's outputs to the next stage's socket server at ``address`` (after
        ``build(serve_socket=True)`` on both)."""
        self.socket_server.link_next(address)

    def _warm_up(self, module) -> None:
        """One small forward pass, so the first real request does not pay torch's first-call costs."""
        import torch

        x = module.example_input(1, min(8, module.spec.seq_len))
        with torch.inference_mode():
            module(x)

    def ping(self) -> int:
        return os.getpid()

    # ---- serving -------------------------------------------------------------------------------
    def run(self, model: str, payload: dict, ticket: dict | None = None):
        """Run this stage of ``model`` on ``payload["x"]``; returns (the payload for the next stage
        with this stage's timing appended, this stage's timing alone). Call with ``num_returns=2``.
        ``ticket`` (ordering information, ``stage_queue.ticket_for``) only matters to
        ``OrderedStageWorker``; this FIFO actor runs calls in Ray's arrival order."""
        return self._run(model, payload)

    def run_payload(self, model: str, payload: dict, ticket: dict | None = None) -> dict:
        """``run`` with one result, the payload: for calls whose separate timing record nobody
        awaits (a later stage's rank 0; the payload carries every timing anyway). One return object
        less per call to serialize, store and track."""
        return self._run(model, payload)[0]

    def _run(self, model: str, payload: dict) -> tuple[dict, dict]:
        import torch

        start_wall = time.time()
        x = payload["x"]
        if not torch.is_tensor(x):  # Ray's object store hands over read-only arrays, a socket's
            x = torch.from_numpy(x) if x.flags.writeable else torch.tensor(x)  # are writable: no copy
        x = x.to(self.device, non_blocking=True)
        module = self.modules[model]
        t0 = time.perf_counter()
        with torch.inference_mode():
            y = module(x)
            if self.device == "cuda":
                torch.cuda.synchronize()
        compute_s = time.perf_counter() - t0
        timing = {"stage": self.stage, "rank": self.op_rank, "start_wall_s": start_wall,
                  "compute_s": compute_s, "end_wall_s": time.time()}
        timings = list(payload["timings"]) + [timing]
        if self.op_rank != 0:
            return {"x": None, "timings": timings}, timing
        if self.stage == self.pp - 1:
            return {"summary": summarize(y), "timings": timings}, timing
        return {"x": y.cpu() if self.device == "cuda" else y, "timings": timings}, timing


class OrderedStageWorker(StageWorker):
    """A stage actor that runs its ready calls in the order of a queue discipline, not Ray's FIFO.

    An async actor: every ``run`` call parks in a ``StageQueue`` and the compute runs on one worker
    thread, so the event loop keeps taking calls in while a batch computes and the next turn is
    decided over every call that is ready by then. Only for op = 1 stages: the ranks of an op group
    must run the same batch at the same time, and independent queues could order them differently.
    """

    def __init__(self, group_id: int, stage: int, pp: int, models: list[str], *, discipline: str,
                 fairness_threshold: float, **kwargs):
        from concurrent.futures import ThreadPoolExecutor

        from alpa_serve_like.runtime.stage_queue import StageQueue

        super().__init__(group_id, stage, pp, models, **kwargs)
        if self.op_size != 1:
            raise ValueError(f"stage {stage} of group {group_id} has {self.op_size} op ranks: an ordered "
                             f"stage needs op = 1 (use discipline=fcfs for operator-parallel groups)")
        self.queue = StageQueue(discipline, fairness_threshold, stage, pp)
        self._compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stage{stage}")

    async def run(self, model: str, payload: dict, ticket: dict | None = None) -> tuple[dict, dict]:
        import asyncio

        await self.queue.turn(model, ticket)
        compute_s = None
        try:
            out, timing = await asyncio.get_running_loop().run_in_executor(
                self._compute, StageWorker._run, self, model, payload)
            compute_s = timing["compute_s"]
            return out, timing
        finally:
            self.queue.release(model, compute_s)

    async def run_payload(self, model: str, payload: dict, ticket: dict | None = None) -> dict:
        return (await self.run(model, payload, ticket))[0]

    def num_waiting(self) -> int:
        """Calls parked for their turn here (tests wait on it instead of sleeping)."""
        return self.queue.num_waiting()

    def served_order(self) -> list[int]:
        """Job ids (controller batch ids; -1 for warm-up) in the order this stage served them."""
        return list(self.queue.served)


def summarize(output) -> list[dict]:
    """Per request: the L2 norm and first features of its output vector (responses stay small)."""
    out = output.float().cpu()
    norms = out.norm(dim=-1).tolist()
    heads = out[:, :SUMMARY_HEAD].tolist()
    return [{"norm": round(n, 6), "head": [round(v, 6) for v in h]} for n, h in zip(norms, heads)]
