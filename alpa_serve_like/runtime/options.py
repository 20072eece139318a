"""RuntimeOptions: every knob of the Ray Serve runtime in one value, each field documented.

The app builder (``alpa_serve_like.serve``) fills it from ``serve run`` arguments or a Serve config
file; the controller, mesh groups and ingress read only the fields they need.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

DeviceKind = Literal["auto", "cpu", "gpu"]


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
    max_batch_size: int = 1
    """Largest batch a group runs (batches hold requests of one model and one sequence length)."""
    default_slo_s: float = 0.0
    """SLO of requests that give none; 0 means none (never rejected for lateness)."""
    admission: bool = True
    """Reject at arrival when the predicted finish misses the deadline (HTTP 503)."""
    routing: str = "earliest_finish"
    """Routing policy name of ``alpa_serve_like.scheduling``."""
    dispatch_overhead_s: float = 0.0
    """Predicted delay from a request's arrival at the controller to its start on stage 0."""
    per_stage_overhead_s: float = 0.0
    """Predicted extra time per stage over its profiled latency (actor call, activation transfer)."""
    correction_alpha: float = 0.2
    """EWMA weight of each measured stage time in the online latency correction (0 turns it off)."""
    health_check_period_s: float = 2.0
    """How often idle groups' actors are pinged (a dead idle actor is found before a request is)."""
    seed: int = 0
    """Weight seed; a model's weights come from (seed, its instance name), so every group holding
    a replica of ``bert-tiny-0`` holds the same weights."""
    max_body_bytes: int = 1 << 20
    """Largest request body the ingress accepts (larger: HTTP 413)."""
    batch_timeout_s: float = 30.0
    """A batch not back after this long fails (a stuck actor must never hang a request)."""
    recover: bool = True
    """Recreate a mesh group whose actor died (else the group stays out of routing)."""
    startup_timeout_s: float = 120.0
    """How long placement groups and stage actors may take to come up."""

    def __post_init__(self):
        if self.device not in ("auto", "cpu", "gpu"):
            raise RuntimeOptionsError(f"device must be auto, cpu or gpu, got {self.device!r}")
        if self.strategy not in ("STRICT_PACK", "PACK"):
            raise RuntimeOptionsError(f"strategy must be STRICT_PACK or PACK, got {self.strategy!r}")
        for name in ("gpu_per_device", "batch_timeout_s", "startup_timeout_s"):
            if not getattr(self, name) > 0:
                raise RuntimeOptionsError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("torch_threads", "max_batch_size", "max_body_bytes"):
            if int(getattr(self, name)) < 1:
                raise RuntimeOptionsError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("cpu_per_device", "default_slo_s", "dispatch_overhead_s", "per_stage_overhead_s",
                     "health_check_period_s"):
            if not getattr(self, name) >= 0:
                raise RuntimeOptionsError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.correction_alpha <= 1:
            raise RuntimeOptionsError(f"correction_alpha must be in [0, 1], got {self.correction_alpha!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_args(cls, args: dict) -> "RuntimeOptions":
        """Build from string or typed values (``serve run ... max_batch_size=4``); unknown keys fail."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise RuntimeOptionsError(f"unknown runtime options {unknown} (known: {sorted(known)})")
        out = {}
        for name, value in args.items():
            default = known[name].default
            try:
                if isinstance(default, bool):
                    out[name] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    out[name] = int(value)
                elif isinstance(default, float):
                    out[name] = float(value)
                else:
                    out[name] = str(value)
            except (TypeError, ValueError):
                raise RuntimeOptionsError(f"option {name}={value!r}: expected {type(default).__name__}") from None
        return cls(**out)
