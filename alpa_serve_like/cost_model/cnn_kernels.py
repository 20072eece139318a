"""Kernel estimates for a CNN's layers on one GPU: launch shape by rule, duration by roofline.

Everything here is estimated, not measured (a GPU run with torch's profiler would replace it):
- **Arithmetic and traffic.** fp16 (2 bytes per value), batch 1. A convolution is an implicit
  GEMM (M = output pixels, N = output channels per group, K = input channels per group x window):
  2MNK FLOPs per group; it reads its input and weights and writes its output once. A depthwise
  convolution or a pooling window costs 2 (conv) or 1 (pool) FLOP per window element per output.
- **Launch shape** (what cuDNN or a compiler might pick; the real choice is unknown): GEMMs use
  64 x 64 output tiles, 128 threads, 128 registers per thread and 16 KiB of shared memory per
  block (two stages of 64 x 32 fp16 tiles of A and B), and double the split of K while the
  grid stays within one block per SM and each slice keeps >= 256 of K; element-wise style kernels
  (depthwise convolutions, pooling) use 256 threads, 32 registers, one output per thread.
- **Duration** = ``LAUNCH_S`` + max(FLOPs / compute rate, bytes / memory rate), where the rates are
  the datasheet peaks times an efficiency (GEMMs on tensor cores ``GEMM_EFFICIENCY``; other
  kernels on the CUDA cores at ``CUDA_CORE_SHARE`` of the tensor peak; memory
  ``MEMORY_EFFICIENCY``), scaled by the share of the device the grid's first wave holds
  (``GpuSmSpec.wave_share``: its scarcest SM resource). The simulator runs kernels side by side
  while their waves fit, so each must be costed with only its own share: two half-device kernels
  then take as long together as one after the other would at full rate.
- **Copies**: the fp32 input (host to device) and the fp32 output (device to host) are one kernel
  each over PCIe at ``host_link_bytes_per_s`` plus ``COPY_LATENCY_S``, using no SMs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from alpa_serve_like.core.gpu_sm import GpuSmSpec
from alpa_serve_like.cost_model.cnn_layers import LayerShape

BYTES_PER_VALUE = 2
LAUNCH_S = 2e-6
COPY_LATENCY_S = 8e-6
GEMM_EFFICIENCY = 0.5
CUDA_CORE_SHARE = 0.25
"""fp16 CUDA-core peak / tensor-core peak: 16.2/65 (T4), 31.4/125 (V100), 78/312 (A100); H100 lower."""
MEMORY_EFFICIENCY = 0.7
TILE = 64
GEMM_BLOCK = (128, 128, 16 * 1024)
"""(threads, registers per thread, shared memory bytes) of a GEMM block."""
ELEMENTWISE_BLOCK = (256, 32, 0)
MIN_SPLIT_K = 256


@dataclass(frozen=True)
class KernelEstimate:
    """One estimated kernel: the fields of ``simulator.gpu_kernels.Kernel`` plus its work."""

    name: str
    duration_s: float
    blocks: int
    threads_per_block: int
    registers_per_thread: int
    shared_mem_bytes: int
    flops: float
    bytes: float

    def kernel_fields(self) -> dict:
        """Keyword arguments for ``simulator.gpu_kernels.Kernel``."""
        return dict(duration_s=self.duration_s, blocks=self.blocks, threads_per_block=self.threads_per_block,
                    registers_per_thread=self.registers_per_thread, shared_mem_bytes=self.shared_mem_bytes,
                    name=self.name)


def _roofline_s(flops: float, nbytes: float, block: tuple[int, int, int, int], compute_flops: float,
                spec: GpuSmSpec) -> float:
    share = spec.wave_share(*block)
    return LAUNCH_S + max(flops / (compute_flops * share),
                          nbytes / (spec.mem_bandwidth_bytes_per_s * MEMORY_EFFICIENCY * share))


def _gemm(name, m, n, k, groups, nbytes, spec) -> KernelEstimate:
    blocks = math.ceil(m / TILE) * math.ceil(n / TILE) * groups
    split = 1
    while blocks * split * 2 <= spec.num_sms and k // (split * 2) >= MIN_SPLIT_K:
        split *= 2
    blocks *= split
    flops = 2.0 * m * n * k * groups
    threads, regs, smem = GEMM_BLOCK
    rate = spec.peak_fp16_flops * GEMM_EFFICIENCY
    return KernelEstimate(name, _roofline_s(flops, nbytes, (blocks, threads, regs, smem), rate, spec),
                          blocks, threads, regs, smem, flops, nbytes)


def _elementwise(name, outputs, flops, nbytes, spec) -> KernelEstimate:
    threads, regs, smem = ELEMENTWISE_BLOCK
    blocks = math.ceil(outputs / threads)
    rate = spec.peak_fp16_flops * CUDA_CORE_SHARE * GEMM_EFFICIENCY
    return KernelEstimate(name, _roofline_s(flops, nbytes, (blocks, threads, regs, smem), rate, spec), blocks,
                          threads, regs, smem, flops, nbytes)


def layer_kernel(layer: LayerShape, spec: GpuSmSpec) -> KernelEstimate:
    """The one kernel ``layer`` launches on ``spec``."""
    cin, hin, win = layer.in_shape
    cout, hout, wout = layer.out_shape
    outputs = cout * hout * wout
    window = layer.kernel[0] * layer.kernel[1]
    nbytes = BYTES_PER_VALUE * (cin * hin * win + outputs + layer.weight_count)
    if layer.kind == "pool":
        return _elementwise(layer.name, outputs, float(outputs * window), nbytes, spec)
    if layer.kind == "conv" and layer.groups > 1 and cin // layer.groups == 1:  # depthwise
        return _elementwise(layer.name, outputs, 2.0 * outputs * window, nbytes, spec)
    if layer.kind == "linear":
        return _gemm(layer.name, 1, cout, cin * hin * win, 1, nbytes, spec)
    g = layer.groups
    return _gemm(layer.name, hout * wout, cout // g, cin // g * window, g, nbytes, spec)


def copy_kernel(name: str, nbytes: float, spec: GpuSmSpec) -> KernelEstimate:
    return KernelEstimate(name, COPY_LATENCY_S + nbytes / spec.host_link_bytes_per_s, 0, 0, 0, 0, 0.0, nbytes)


def model_kernels(layers: list[LayerShape], spec: GpuSmSpec) -> list[KernelEstimate]:
    """The kernel sequence of one inference (batch 1): input copy, one kernel per layer, output copy."""
    if not layers:
        raise ValueError("a model needs at least one layer")
    first, last = layers[0].in_shape, layers[-1].out_shape
    return ([copy_kernel("input h2d", 4.0 * math.prod(first), spec)]
            + [layer_kernel(l, spec) for l in layers]
            + [copy_kernel("output d2h", 4.0 * math.prod(last), spec)])
