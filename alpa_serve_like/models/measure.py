"""The measured profiler: time real torch pipeline stages and record them as a ModelProfile.

For every requested ParallelConfig it cuts one randomly initialised model (``alpa_serve_like.models``,
no downloads) into ``pp`` stages and, per batch size, runs a full-length batch (``spec.seq_len``
tokens per sequence) through them: each stage is timed on the output of the stage before it,
with warm-up runs and the median of ``repeats`` timed runs (CUDA synchronised around each run).
Before anything is timed, the whole model runs once at every batch size: torch's first call at a
shape (allocator growth, kernel selection, lazy initialisation) can cost 100x a steady-state run,
and would otherwise land in the first timed batch size only. The clock is injected (``clock``).

Memory per stage and device:
- ``weight_bytes``: the bytes of the stage's parameters.
- ``act_bytes`` on CUDA: the stage input plus the peak the forward pass allocates above what was
  allocated before it (``torch.cuda.max_memory_allocated`` delta).
- ``act_bytes`` on CPU (no allocator statistics): an estimate, the stage input plus the largest
  single operation's inputs and outputs seen by forward hooks, where attention counts its
  ``[batch, heads, seq, seq]`` score matrix. It is an estimate, not an allocator reading, but it
  scales with batch and sequence length as the real peak does.

Only ``op == 1`` is measured: timing tensor-parallel stages needs one process per shard, which the
profiler does not launch (the models themselves support op > 1, see ``models.tensor_parallel``).
Latency does not depend on ``dp`` (whole pipeline copies), so configs differing only in dp share
one measurement. Importing this module imports torch.
"""
from __future__ import annotations

import re
import statistics
import time
from typing import Callable, Iterable, Sequence

import torch

from alpa_serve_like.core.hardware import BUILTIN_DEVICES
from alpa_serve_like.core.model_spec import ModelSpec
from alpa_serve_like.models import StageModule, build_stage, random_token_ids, split_stages
from alpa_serve_like.models.layers import Attention
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile, ProfileError

_TORCH_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def measure_profile(
    spec: ModelSpec,
    configs: Iterable[ParallelConfig],
    batch_sizes: Sequence[int],
    device: str = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    device_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ModelProfile:
    """Measure ``spec`` under each of ``configs`` at each batch size; returns a validated profile.

    ``dtype`` defaults to float32 on CPU (half-precision matmuls are slow or missing there) and to
    ``spec.dtype`` on CUDA. ``device_name`` is the database's device key; by default "cpu" or the
    CUDA device's name normalised to a built-in key ("NVIDIA H100 80GB HBM3" -> "h100-80gb").
    """
    configs = sorted(set(configs))
    batches = sorted(set(batch_sizes))
    _check_arguments(spec, configs, batches, warmup, repeats)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ProfileError(f"device {device!r} asked for, but torch sees no CUDA device; use device='cpu'")
    if dtype is None:
        dtype = torch.float32 if dev.type == "cpu" else _TORCH_DTYPES[spec.dtype]
    say = progress or (lambda line: None)

    say(f"{spec.name}: building the model ({spec.num_params / 1e6:.1f}M parameters, {dtype}) on {dev}")
    whole = build_stage(spec, 1, 0, seed=seed, dtype=dtype, device=dev)
    if warmup > 0:
        _warm_up_shapes(spec, whole, batches, dev, seed)
    by_pp: dict[int, tuple[dict, tuple, dict]] = {}
    for pp in sorted({c.pp for c in configs}):
        stages = [whole] if pp == 1 else split_stages(whole, pp)
        latency, act = {}, {}
        for batch in batches:
            latency[batch], act[batch] = _measure_batch(spec, stages, batch, dev, warmup, repeats, seed, clock)
            stage_ms = ", ".join(f"{t * 1e3:.2f}" for t in latency[batch])
            say(f"{spec.name} pp={pp} batch={batch}: stage latency ms [{stage_ms}]")
        by_pp[pp] = (latency, tuple(int(st.weight_bytes) for st in stages), act)

    entries = {}
    for config in configs:
        latency, weights, act = by_pp[config.pp]
        entries[config] = ConfigProfile(config=config, stage_latency_s=dict(latency),
                                        weight_bytes=weights, act_bytes=dict(act))
    name = device_name or (normalize_device_name(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else "cpu")
    profile = ModelProfile(name=spec.name, device=name, configs=entries, spec=spec, source="measured")
    profile.validate()
    return profile


def _check_arguments(spec, configs, batches, warmup, repeats) -> None:
    if not configs:
        raise ProfileError(f"model {spec.name!r}: no parallel configs to measure")
    for config in configs:
        if config.op != 1:
            raise ProfileError(
                f"model {spec.name!r}: cannot measure {config.key}: the measured profiler times "
                f"op=1 only (use the analytic profiler for op > 1)"
            )
        if config.pp > spec.num_layers:
            raise ProfileError(
                f"model {spec.name!r}: {config.key} needs pp <= num_layers = {spec.num_layers}"
            )
    if not batches or any(not isinstance(b, int) or b < 1 for b in batches):
        raise ProfileError(f"model {spec.name!r}: batch sizes must be positive ints, got {batches}")
    if warmup < 0 or repeats < 1:
        raise ProfileError(f"warmup must be >= 0 and repeats >= 1, got {warmup} and {repeats}")


def _warm_up_shapes(spec: ModelSpec, whole: StageModule, batches: Sequence[int], dev: torch.device,
                    seed: int) -> None:
    """One untimed run of the whole model at every batch size (see the module docstring)."""
    with torch.inference_mode():
        for batch in batches:
            whole(random_token_ids(spec, batch, None, torch.Generator().manual_seed(seed)).to(dev))
    _sync(dev)


def _measure_batch(spec: ModelSpec, stages: list[StageModule], batch: int, dev: torch.device,
                   warmup: int, repeats: int, seed: int,
                   clock: Callable[[], float]) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Per-stage median latency (s) and activation bytes for one batch of full-length sequences."""
    tokens = random_token_ids(spec, batch, None, torch.Generator().manual_seed(seed)).to(dev)
    latency, act = [], []
    with torch.inference_mode():
        x = tokens
        for stage in stages:
            act.append(_activation_bytes(stage, x, dev))
            latency.append(median_latency_s(lambda: stage(x), lambda: _sync(dev), warmup, repeats, clock))
            x = stage(x)
    return tuple(latency), tuple(act)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def median_latency_s(run: Callable[[], object], sync: Callable[[], None], warmup: int, repeats: int,
                     clock: Callable[[], float] = time.perf_counter) -> float:
    """Median over ``repeats`` timed calls of ``run`` after ``warmup`` untimed ones; ``sync`` waits
    for queued device work before each clock reading."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        sync()
        times.append(clock() - start)
    return float(statistics.median(times))


def _tensor_bytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def _activation_bytes(stage: StageModule, x: torch.Tensor, dev: torch.device) -> int:
    input_bytes = _tensor_bytes(x)
    if dev.type == "cuda":
        _sync(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        out = stage(x)
        _sync(dev)
        peak = torch.cuda.max_memory_allocated(dev) - before
        del out
        return int(input_bytes + peak)
    return int(input_bytes + _largest_op_bytes(stage, x))


def _largest_op_bytes(stage: StageModule, x: torch.Tensor) -> int:
    """CPU estimate: the largest inputs+output of any leaf module, or attention's score matrix."""
    largest = 0

    def hook(module, inputs, output):
        nonlocal largest
        live = _tensor_bytes(inputs) + _tensor_bytes(output)
        if isinstance(module, Attention):
            b, s, _ = inputs[0].shape
            live = _tensor_bytes(inputs) + b * module.local_heads * s * s * inputs[0].element_size()
        largest = max(largest, live)

    watched = [m for m in stage.modules() if isinstance(m, Attention) or not any(m.children())]
    handles = [m.register_forward_hook(hook) for m in watched]
    try:
        stage(x)
    finally:
        for handle in handles:
            handle.remove()
    return largest


def normalize_device_name(raw: str) -> str:
    """Database device key for a CUDA device name: a built-in key when one matches, else a slug.

    "NVIDIA H100 80GB HBM3" -> "h100-80gb", "Tesla V100-SXM2-16GB" -> "v100-16gb",
    "NVIDIA A100-SXM4-80GB" -> "a100-80gb", "NVIDIA H200" -> "h200".
    """
    text = raw.lower()
    chip = re.search(r"\b([a-z]\d{2,3})\b", text.replace("-", " "))
    memory = re.search(r"(\d+)\s*gb", text)
    if chip and memory:
        key = f"{chip.group(1)}-{memory.group(1)}gb"
        if key in BUILTIN_DEVICES:
            return key
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    for vendor in ("nvidia-", "tesla-"):
        slug = slug.removeprefix(vendor)
    return slug or "cuda"
