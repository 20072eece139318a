"""CostModelParams: how much of a device's datasheet the analytic cost model assumes is achieved.

``DeviceSpec`` holds the peaks a vendor publishes; these are the calibrated fractions and fixed
overheads that turn peaks into predicted latencies. The V100 values are fitted by least squares to
AlpaServe's measured BERT-1.3B table; the other GPUs reuse them (the efficiencies describe the
software stack -- cuBLAS, NCCL, XLA launch overheads -- more than the chip), with the GEMM knee
scaled through the device's own ridge point (see ``gemm_knee_rows``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from alpa_serve_like.core.hardware import DeviceSpec


@dataclass(frozen=True)
class CostModelParams:
    """Calibrated constants of the analytic cost model for one device type."""

    gemm_efficiency: float = 0.5
    """Fraction of peak FLOP/s a large GEMM reaches."""
    gemm_knee_ridge_multiple: float = 10.0
    """Below ``knee = multiple * peak_flops / mem_bandwidth`` rows a GEMM no longer speeds up as
    its row count shrinks (the GPU is not filled). Expressed relative to the roofline ridge point
    so a device with more FLOP/s per byte needs proportionally more rows to saturate."""
    gemm_knee_sharpness: float = 4.0
    """Exponent ``p`` of the smooth maximum ``(rows**p + knee**p) ** (1/p)``: large p is a hard
    floor at the knee, p = 1 a fixed per-GEMM overhead of ``knee`` rows."""
    mem_efficiency: float = 0.8
    """Fraction of memory bandwidth memory-bound kernels reach (STREAM-like, not fitted)."""
    layer_overhead_s: float = 0.0
    """Fixed launch/synchronisation cost per transformer layer on each device."""
    collective_overhead_s: float = 0.0
    """Fixed cost per collective call (all-reduce, all-to-all) beyond the link latency."""
    stage_overhead_s: float = 0.0
    """Fixed cost per pipeline stage per batch (executable launch, host round trip)."""
    intra_link_efficiency: float = 0.5
    """Fraction of the per-device intra-node link (NVLink) bandwidth collectives reach."""
    inter_link_efficiency: float = 0.8
    """Fraction of the node's network bandwidth a stage-to-stage transfer reaches."""
    devices_per_node: int = 8
    """Devices in one node: a group that fits uses the intra-node link, else the network."""

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not value > 0 and not (name.endswith("overhead_s") and value == 0):
                raise ValueError(f"CostModelParams.{name} must be > 0, got {value!r}")

    def gemm_knee_rows(self, device: DeviceSpec) -> float:
        ridge_flop_per_byte = device.peak_fp16_flops / device.mem_bandwidth_bytes_per_s
        return self.gemm_knee_ridge_multiple * ridge_flop_per_byte

    def to_dict(self) -> dict:
        return asdict(self)


# Fitted by least squares to AlpaServe's measured V100 BERT-1.3B table with
#   alpa-serve-like profile --fit-calibration
# (alpa_serve_like.cost_model.calibration.fit_params); re-run it and paste the printed values here
# after changing the cost model. Reading them: large GEMMs reach 46% of the V100 tensor peak (XLA
# on V100, fp16); a GEMM needs ~1660 rows (12x the 139 FLOP/byte ridge) to fill the GPU; NCCL
# reaches 82% of NVLink and ~100% of the 25 Gbit/s network; each collective costs 0.18 ms and each
# stage 1.4 ms on top. mem_efficiency and the knee sharpness are not identifiable from this
# compute-bound table and stay at their defaults.
V100_PARAMS = CostModelParams(
    gemm_efficiency=0.4578,
    gemm_knee_ridge_multiple=11.99,
    gemm_knee_sharpness=4.0,
    mem_efficiency=0.8,
    layer_overhead_s=0.0,
    collective_overhead_s=0.0001837,
    stage_overhead_s=0.001444,
    intra_link_efficiency=0.8184,
    inter_link_efficiency=0.9989,
)

# The CPU "device" is one core running fp32 PyTorch eagerly. Fitted jointly to torch timings of
# bert-tiny, bert-mini and gpt-tiny (one thread, batch 1/4/16) on the development machine by
#   python scripts/fit_cpu_params.py
# (errors 0-13% there). Per-operator dispatch shows up as the per-layer overhead.
CPU_PARAMS = CostModelParams(
    gemm_efficiency=0.8913,
    gemm_knee_ridge_multiple=28.62,
    gemm_knee_sharpness=4.0,
    mem_efficiency=0.8,
    layer_overhead_s=6.011e-05,
    collective_overhead_s=5e-5,
    stage_overhead_s=0.0,
    intra_link_efficiency=0.5,
    inter_link_efficiency=0.5,
)

PARAMS_BY_DEVICE: dict[str, CostModelParams] = {
    "v100-16gb": V100_PARAMS,
    "a100-40gb": V100_PARAMS,
    "a100-80gb": V100_PARAMS,
    "h100-80gb": V100_PARAMS,
    "cpu": CPU_PARAMS,
}


def get_params(device_name: str) -> CostModelParams:
    """Calibrated params for a built-in device; unknown GPUs get the V100 efficiencies."""
    return PARAMS_BY_DEVICE.get(device_name.lower(), V100_PARAMS)

