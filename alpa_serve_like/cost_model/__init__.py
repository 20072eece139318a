"""Analytic cost model: per-stage latency and memory of transformer models from a device datasheet.

``build_profile(spec, device)`` is the entry point that fills the profiling database; the pieces are
``transformer`` (work counts), ``latency`` (roofline + communication), ``memory`` and ``params``
(calibrated constants, fitted by ``calibration``).
"""
from alpa_serve_like.cost_model.latency import stage_bounds, stage_latencies_s
from alpa_serve_like.cost_model.params import PARAMS_BY_DEVICE, CostModelParams, get_params
from alpa_serve_like.cost_model.profile_builder import build_profile, supported_configs

__all__ = [
    "CostModelParams", "PARAMS_BY_DEVICE", "build_profile", "get_params", "stage_bounds",
    "stage_latencies_s", "supported_configs",
]
