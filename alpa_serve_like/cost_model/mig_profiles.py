"""ModelProfiles of the MIGPerf networks on A100-80GB MIG slices, from the calibrated slice model.

A slice is a device type (``a100-80gb/3g.40gb``), so its profile goes into the profiling database
like any other: one ``ModelProfile`` per (network, slice), single stage (ParallelConfig(1, 1, 1):
instances cannot form model-parallel groups), latency per batch from ``mig_slices``. The whole GPU
(``a100-80gb``) is the 7g slice. Weights are fp16 parameter counts x 2 bytes; activations are left
out (a few MB at these sizes, well inside the smallest slice).
"""
from __future__ import annotations

from typing import Sequence

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.cost_model.mig_slices import CALIBRATED_NETWORKS, slice_latency_s

CALIBRATED_GPU = "a100-80gb"
PARAMETERS: dict[str, int] = {
    # torchvision resnet50 and vit_b_16 model cards; BERT-base (Devlin et al. 2019, table 1).
    "resnet50": 25_557_032,
    "vision_transformer": 86_567_656,
    "bert-base": 110_000_000,
}
DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SOURCE = "mig-slice-model"


def slice_profile(network: str, device_type: str, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
                  seq_length: int | None = None) -> ModelProfile:
    """Profile of ``network`` on ``device_type`` (an A100-80GB slice, or the whole GPU as 7g)."""
    if network not in CALIBRATED_NETWORKS:
        raise KeyError(f"no MIG slice model for {network!r} (calibrated: {', '.join(sorted(CALIBRATED_NETWORKS))})")
    if device_type.lower() == CALIBRATED_GPU:
        compute_slices = mig.COMPUTE_SLICES
    else:
        profile = mig.parse_profile(device_type)
        if profile.gpu != CALIBRATED_GPU:
            raise ValueError(f"slice profiles are calibrated on {CALIBRATED_GPU} only, not {profile.gpu!r} "
                             f"(measure that GPU's slices, or refit mig_slices on its data)")
        compute_slices = profile.compute_slices
    if network == "bert-base" and seq_length is None:
        seq_length = 64  # MIGPerf's batch sweep
    config = ParallelConfig(1, 1, 1)
    latency = {int(b): (slice_latency_s(network, compute_slices, int(b), seq_length),) for b in batch_sizes}
    entry = ConfigProfile(config, latency, (2 * PARAMETERS[network],))
    out = ModelProfile(network, device_type.lower(), {config: entry}, source=SOURCE)
    out.validate()
    return out


def slice_profiles(network: str, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES) -> list[ModelProfile]:
    """Profiles of ``network`` on every A100-80GB MIG profile (1g..7g)."""
    return [slice_profile(network, p.device_name, batch_sizes) for p in mig.profiles(CALIBRATED_GPU)]
