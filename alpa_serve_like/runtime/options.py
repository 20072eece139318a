"""RuntimeOptions: every knob of the Ray Serve runtime in one value, each field documented.

The app builder (``alpa_serve_like.serve``) fills it from ``serve run`` arguments or a Serve config
file; the controller, mesh groups and ingress read only the fields they need. Routing, admission
and batching are one ``SchedulingOptions`` value (``scheduling``), the same type the simulator and
the placement optimizer hold, never a copy of its fields; ``from_args`` still takes its fields flat
(``max_batch_size=4``) and puts them into it.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Literal, Mapping

from alpa_serve_like.core.instances import base_model_name
from alpa_serve_like.scheduling.options import SchedulingOptions

DeviceKind = Literal["auto", "cpu", "gpu"]
CheckpointNaming = Literal["ours", "hf-bert", "hf-gpt2", "auto"]
CHECKPOINT_NAMINGS = ("ours", "hf-bert", "hf-gpt2", "auto")
"""The namings of ``models.checkpoint`` (not imported: it needs torch, the controller must not)."""
ALL_MODELS = "*"
"""Key of the checkpoint that every model not named on its own loads."""

IngressKind = Literal["separate", "fused"]
StageTransport = Literal["socket", "actor_call", "compiled_graph"]
STAGE_TRANSPORTS = ("socket", "actor_call", "compiled_graph")


LOW_LATENCY_REPLICA_ENV = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    "RAY_SERVE_USE_GRPC_BY_DEFAULT": "1",
}
"""Ray Serve 2.60's settings (``ray/serve/_private/constants.py``) that ``RAY_SERVE_THROUGHPUT_OPTIMIZED=1``
turns on for a replica, less direct ingress and logging; see ``RuntimeOptions.low_latency_replicas``."""


class RuntimeOptionsError(ValueError):
    """A runtime option has a wrong type or value."""


@dataclass(frozen=True)
class RuntimeOptions:
    """Settings of one served placement."""

    device: DeviceKind = "auto"
    """Where stage actors run: ``gpu`` (one ``GPU`` bundle per device), ``cpu`` (small CPU bundles),
    ``auto`` (gpu when the Ray cluster has GPUs, else cpu)."""
    gpu_per_device: float = 1.0
    """GPUs a device bundle asks for; below 1 packs several placement devices on one GPU (tests)."""
    cpu_per_device: float = 0.1
    """CPUs a device bundle asks for. Small on purpose: the stage actors' work is torch, and on a
    small machine Ray must never refuse a task because idle actors hold whole CPUs."""
    strategy: Literal["STRICT_PACK", "PACK"] = "STRICT_PACK"
    """Placement-group strategy of each mesh group (STRICT_PACK keeps a group on one node)."""
    torch_threads: int = 1
    """Intra-op threads of each stage actor's torch (1 keeps stages from fighting over cores)."""
    profile_device: str = "cpu"
    """Device type whose profiles (in the profiling database) predict latencies."""
    database: str = ""
    """Path of profiling_result.pkl; empty: ``default_database_path()``."""
    scheduling: SchedulingOptions = field(default_factory=lambda: SchedulingOptions(drop_doomed_at_dispatch=True))
    """Routing, admission and batching (shared with the simulator). Its ``dispatch_overhead_s`` and
    ``per_stage_overhead_s`` are floors under the overheads learned online. The runtime drops doomed
    requests at dispatch by default."""
    default_slo_s: float = 0.0
    """SLO of requests that give none; 0 means none (never rejected for lateness)."""
    correction_alpha: float = 0.2
    """EWMA weight of each measured stage time in the online latency correction (0 turns it off)."""
    correction_half_life_s: float = 2.0
    """While a stage reports no measurement, its latency correction's excess over 1.0 (the profile)
    halves every this many seconds (``inf``: never). Without it a slow spell that drove predictions
    past the SLO locked its group out for good: admission rejected every request, so nothing was
    measured again (``scheduling/correction.py``)."""
    overhead_alpha: float = 0.1
    """EWMA weight of each measured dispatch, hop and response overhead in the predictions that
    admission uses (0: use only the fixed ``scheduling`` overheads)."""
    admission_quantile: float = 0.99
    """Admission's margin is this quantile of the last answered requests' residuals (finish seen
    minus finish predicted; ``runtime.overheads``): about this share of admitted requests meet their
    SLO, stalls of the machine aside (residuals longer than the room the SLO leaves an idle group's
    request are left out: no margin serves them). 0: a margin of 2 deviations of the summed
    overheads (normal noise) instead."""
    max_ongoing_requests: int = 1000
    """Ray Serve ``max_ongoing_requests`` of the controller replica and of each ingress replica.
    Large, so requests reach the handler (where arrival is stamped and cheap shedding happens)
    instead of waiting unseen in the proxy."""
    max_queued_requests: int = 200
    """Ray Serve ``max_queued_requests``: beyond this many requests waiting in front of the HTTP
    replica (the ingress, or the fused controller), Serve's proxy answers 503 itself without a hop
    to it; the separate ingress answers 503 ``overloaded`` when the same limit in front of the
    controller is reached."""
    max_pending_requests: int = 256
    """Requests in the controller (admitted and not answered) above which a new request is shed
    before it is parsed or scheduled (HTTP 503 with ``Retry-After``)."""
    retry_after_s: int = 1
    """``Retry-After`` seconds on 503 answers (shed, rejected by admission, group down)."""
    health_check_period_s: float = 2.0
    """How often idle groups' actors are pinged (a dead idle actor is found before a request is)."""
    checkpoint: tuple[tuple[str, str], ...] = ()
    """Weights to load instead of the random ones, as ``(model, path)`` pairs: ``model`` an instance
    (``bert-mini-0``), a base model (``bert-mini``: all its instances) or ``*`` (every model not
    named otherwise). Given as ``checkpoint=PATH`` (every model), ``checkpoint=bert-mini=A.pt,gpt-tiny-0=B.pt``
    or, in a config file, a mapping model -> path. Each path is a local ``.safetensors`` file or a
    ``torch.save``d state dict (``models.checkpoint``); each stage actor reads it and keeps only its
    stage's layers and its op rank's shard. Models without one keep random weights from ``seed``."""
    checkpoint_naming: CheckpointNaming = "auto"
    """Tensor naming of the checkpoints: ``ours``, ``hf-bert``, ``hf-gpt2`` or ``auto`` (guessed)."""
    seed: int = 0
    """Weight seed; a model's weights come from (seed, its instance name), so every group holding
    a replica of ``bert-tiny-0`` holds the same weights."""
    max_body_bytes: int = 1 << 20
    """Largest request body the ingress accepts (larger: HTTP 413)."""
    body_timeout_s: float = 10.0
    """A request body not fully received this long after its handler started is answered 408 (a
    slow or stalled sender must not hold the server; Serve's ``request_timeout_s`` bounds the
    whole request on top)."""
    batch_timeout_s: float = 30.0
    """A batch not back after this long fails (a stuck actor must never hang a request)."""
    recover: bool = True
    """Recreate a mesh group whose actor died (else the group stays out of routing)."""
    startup_timeout_s: float = 120.0
    """How long placement groups and stage actors may take to come up."""
    ingress: IngressKind = "fused"
    """How HTTP reaches the controller. ``fused`` (default): the controller serves HTTP itself, one
    hop less per request, but while a lost controller restarts Serve's proxy holds requests for it.
    ``separate``: a stateless ``Ingress`` deployment (``ingress_replicas``) forwards to it over a
    handle and outlives it, so a lost controller is answered 503 ``controller_unavailable`` within
    milliseconds, at the cost of that hop: at twice the clean rate it kept admitted attainment at
    0.42 against fused's 0.99 on this 2-core machine (benchmarks/bench_overload.py, README)."""
    ingress_replicas: int = 1
    """Replicas of the separate ingress."""
    controller_timeout_s: float = 3.0
    """``ingress=separate``: a controller that has not answered the ingress's ping
    (sent every 0.25 s) within this long is taken as lost (hung or unreachable): the ingress answers
    503 ``controller_unavailable`` at once until it answers again. Generous, so a controller busy
    for a moment is not taken as lost; a controller replica that dies is seen within milliseconds,
    by ``controller_vigil_s``'s long-poll."""
    controller_vigil_s: float = 1.0
    """``ingress=separate``: how long each of the ingress's long-poll calls to the controller is
    held before it returns and is sent again. One is always in flight, so the controller's death
    fails it at once (Ray's actor-death error) and the ingress answers 503 from then on. Short, so
    a redeploy's graceful shutdown never waits long for it."""
    low_latency_replicas: bool = True
    """Run the ingress and controller replicas with the per-replica settings of Ray Serve's
    documented ``RAY_SERVE_THROUGHPUT_OPTIMIZED`` mode (``LOW_LATENCY_REPLICA_ENV``, through the
    deployments' ``runtime_env``): user code and the handle's router on the replica's own event
    loop (no thread hand-off per request) and handle calls over Serve's gRPC data plane. Its direct
    ingress is left off: it would open one more HTTP listener per replica."""
    stage_transport: StageTransport = "socket"
    """How the controller calls a group's stage actors. Groups of one op rank under the ``fcfs``
    discipline: ``socket`` (default) over Unix sockets the stage actors serve on the controller's
    node, any number of stages (``runtime/socket_stages.py``; a stage on another node, or a
    platform without abstract Unix sockets, keeps actor calls), ``compiled_graph`` over a Ray
    compiled graph for one-stage groups (``runtime/compiled_stages.py``: shared-memory channels
    whose readers poll, which costs CPU a small machine lacks), ``actor_call`` over ordinary Ray
    actor calls. Every other group uses actor calls. Measured by ``benchmarks/bench_runtime_overhead.py`` (README)."""
    warm_up: bool = True
    """Run one batch of one request of each model through each group after it starts (and after
    each recreation, before it rejoins routing), so no user request pays the first call's cost;
    ``/health`` answers 503 ``warming_up`` until every group has served it."""

    def __post_init__(self):
        if isinstance(self.scheduling, dict):  # from to_dict() / a Serve config file
            object.__setattr__(self, "scheduling", SchedulingOptions(**self.scheduling))
        if not isinstance(self.scheduling, SchedulingOptions):
            raise RuntimeOptionsError(f"scheduling must be a SchedulingOptions, got {self.scheduling!r}")
        object.__setattr__(self, "checkpoint", parse_checkpoints(self.checkpoint))
        if self.checkpoint_naming not in CHECKPOINT_NAMINGS:
            raise RuntimeOptionsError(f"checkpoint_naming must be one of {', '.join(CHECKPOINT_NAMINGS)}, "
                                      f"got {self.checkpoint_naming!r}")
        if self.device not in ("auto", "cpu", "gpu"):
            raise RuntimeOptionsError(f"device must be auto, cpu or gpu, got {self.device!r}")
        if self.ingress not in ("separate", "fused"):
            raise RuntimeOptionsError(f"ingress must be separate or fused, got {self.ingress!r}")
        if self.stage_transport not in STAGE_TRANSPORTS:
            raise RuntimeOptionsError(f"stage_transport must be one of {', '.join(STAGE_TRANSPORTS)}, "
                                      f"got {self.stage_transport!r}")
        if self.strategy not in ("STRICT_PACK", "PACK"):
            raise RuntimeOptionsError(f"strategy must be STRICT_PACK or PACK, got {self.strategy!r}")
        for name in ("gpu_per_device", "batch_timeout_s", "startup_timeout_s", "controller_timeout_s",
                     "controller_vigil_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise RuntimeOptionsError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("torch_threads", "ingress_replicas", "max_body_bytes", "max_ongoing_requests", "max_queued_requests",
                     "max_pending_requests", "retry_after_s"):
            if int(getattr(self, name)) < 1:
                raise RuntimeOptionsError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.correction_half_life_s > 0:
            raise RuntimeOptionsError(f"correction_half_life_s must be > 0 seconds (inf: never fade), "
                                      f"got {self.correction_half_life_s!r}")
        for name in ("cpu_per_device", "default_slo_s", "health_check_period_s"):
            if not getattr(self, name) >= 0:
                raise RuntimeOptionsError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("correction_alpha", "overhead_alpha"):
            if not 0 <= getattr(self, name) <= 1:
                raise RuntimeOptionsError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.admission_quantile < 1:
            raise RuntimeOptionsError(f"admission_quantile must be in [0, 1) (0: normal-noise margin), "
                                      f"got {self.admission_quantile!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def checkpoint_for(self, instance: str) -> str:
        """Checkpoint path of model ``instance`` (``bert-mini-0``): its own, its base model's, the
        one for every model, or "" (random weights)."""
        paths = dict(self.checkpoint)
        for key in (instance, base_model_name(instance), ALL_MODELS):
            if key in paths:
                return paths[key]
        return ""

    def replica_actor_options(self) -> dict:
        """``ray_actor_options`` of the ingress and controller replicas."""
        out = {"num_cpus": 0.1}
        if self.low_latency_replicas:
            out["runtime_env"] = {"env_vars": dict(LOW_LATENCY_REPLICA_ENV)}
        return out

    @classmethod
    def from_args(cls, args: dict) -> "RuntimeOptions":
        """Build from string or typed values (``serve run ... max_batch_size=4``); unknown keys fail.
        Fields of ``SchedulingOptions`` are given flat (or nested under ``scheduling``) and go into
        ``scheduling``."""
        args = dict(args)
        nested = args.pop("scheduling", None) or {}  # a Serve config file may nest them instead
        if not isinstance(nested, dict):
            raise RuntimeOptionsError(f"scheduling must be a mapping of SchedulingOptions fields, got {nested!r}")
        args = {**nested, **args}
        known = {f.name: f.default for f in fields(cls) if f.name != "scheduling"}
        sched_defaults = cls().scheduling
        sched_known = {f.name: getattr(sched_defaults, f.name) for f in fields(SchedulingOptions)}
        unknown = sorted(set(args) - set(known) - set(sched_known))
        if unknown:
            raise RuntimeOptionsError(f"unknown runtime options {unknown} "
                                      f"(known: {sorted(set(known) | set(sched_known))})")
        out, sched = {}, {}
        for name, value in args.items():
            if name == "checkpoint":
                out[name] = value  # a path, MODEL=PATH pairs or a mapping: parse_checkpoints reads it
            elif name in known:
                out[name] = _typed(name, value, known[name])
            else:
                sched[name] = _typed(name, value, sched_known[name])
        try:
            scheduling = replace(sched_defaults, **sched)
        except ValueError as exc:
            raise RuntimeOptionsError(f"scheduling options {sched}: {exc}") from None
        return cls(scheduling=scheduling, **out)


def _typed(name: str, value, default):
    """``value`` (a string from the command line, or already typed) as the type of ``default``."""
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise RuntimeOptionsError(f"option {name}={value!r}: expected {type(default).__name__}") from None


def parse_checkpoints(value) -> tuple[tuple[str, str], ...]:
    """``(model, absolute path)`` pairs, sorted, from a path (every model: ``*``), a string of
    ``MODEL=PATH`` pairs separated by commas, a mapping or pairs. Paths become absolute here, in the
    process that reads the arguments, so relative paths mean the same in every stage actor."""
    if isinstance(value, str):
        items = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            model, sep, path = part.partition("=")
            items.append((model.strip(), path.strip()) if sep else (ALL_MODELS, part))
    elif isinstance(value, Mapping):
        items = list(value.items())
    else:
        try:
            items = [tuple(pair) for pair in value]
        except TypeError:
            raise RuntimeOptionsError(f"checkpoint must be a path, MODEL=PATH pairs or a mapping, got {value!r}") from None
    out = {}
    for pair in items:
        if len(pair) != 2 or not all(isinstance(x, str) and x for x in pair):
            raise RuntimeOptionsError(f"checkpoint entry {pair!r}: expected MODEL=PATH (or a lone PATH for every "
                                      f"model) with both parts non-empty")
        model, path = pair
        if model in out:
            raise RuntimeOptionsError(f"checkpoint names model {model!r} twice ({out[model]} and {path}); give one")
        out[model] = os.path.abspath(os.path.expanduser(path))
    return tuple(sorted(out.items()))


def check_checkpoint_models(options: RuntimeOptions, served_models) -> None:
    """Raise ``RuntimeOptionsError`` for a checkpoint key (other than ``*``) that names neither a
    served instance nor the base model of one: its weights would silently be loaded by nobody."""
    instances = sorted(set(served_models))
    known = sorted(set(instances) | {base_model_name(m) for m in instances})
    unknown = [model for model, _ in options.checkpoint if model != ALL_MODELS and model not in known]
    if unknown:
        raise RuntimeOptionsError(
            f"checkpoint names {', '.join(repr(m) for m in unknown)}, which the placement does not serve "
            f"(known: {', '.join(known)}); name an instance (bert-mini-0), its base model (bert-mini) or *")


def check_checkpoint_files(options: RuntimeOptions) -> None:
    """Raise ``FileNotFoundError`` naming every checkpoint path that is not a local file (before any
    actor starts; nothing is downloaded)."""
    missing = [f"{model}: {path}" for model, path in options.checkpoint if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(f"checkpoint files not found ({'; '.join(missing)}); give local .safetensors "
                                f"or torch state-dict files, nothing is downloaded")
