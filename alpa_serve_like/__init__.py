"""alpa_serve_like: AlpaServe-style serving of many models under latency SLOs.

Core values (all plain, immutable and serialisable) are re-exported here; the profiling database,
cost model, simulator, placement optimizer (``alpa_serve_like.placement``), trace tooling
(``alpa_serve_like.trace``) and Ray runtime (``alpa_serve_like.controllers``,
``alpa_serve_like.runtime``) live in sub-packages.
"""
from alpa_serve_like.core.hardware import BUILTIN_DEVICES, ClusterSpec, DeviceSpec, get_device
from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile, ProfileError

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_DEVICES",
    "ClusterSpec",
    "ConfigProfile",
    "DeviceSpec",
    "ModelProfile",
    "ModelSpec",
    "ParallelConfig",
    "ProfileError",
    "get_device",
]
