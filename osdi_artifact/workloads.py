"""From a ``Case`` to what a policy and the simulator need: cluster, models, profiles, train and test traffic.

Traffic comes from the real Azure Functions trace when the user gave its files (``TraceSources``),
replayed per fit window as Gamma processes (``trace.azure_functions.replay``), from the real Azure
LLM inference trace for ``trace == "llm"`` (``llm_traffic``; its files must be given), or else from
the labelled synthetic stand-in (``standin``). Either way:

- the training workload is the window ``[0, duration)`` of the trace drawn with ``seed``;
- the evaluation workload is drawn with another seed from the window ``test_offset`` durations
  later (0: the same window), with ``test_rate_scale`` and ``test_cv_scale`` applied on top;
- the real trace's rate is normalised so its mean total rate over the window is ``case.total_rate``
  (AlpaServe likewise rescales the trace to the cluster); ``rate_scale`` and ``cv_scale`` then act
  as in the paper.
Models are ``{base}-{i}`` copies sharing their base model's V100 profile.
"""
from __future__ import annotations

import functools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alpa_serve_like.core.hardware import ClusterSpec, cluster_spec
from alpa_serve_like.core.slo import slo_from_scale
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.osdi_artifact.standin import STAND_INS, stand_in_workload
from alpa_serve_like.osdi_artifact.suites import MODEL_SETS, Case

DEVICE = "v100-16gb"
TEST_SEED_OFFSET = 1000
"""The evaluation traffic of seed s is drawn with seed s + 1000 (never the training draw)."""

REAL_TRACE_START_S = {"maf1": 9 * 3600.0, "maf2": 9 * 3600.0}
"""Where the replayed window of a real trace starts (day 1, 09:00: busy daytime traffic)."""


@dataclass(frozen=True)
class TraceSources:
    """Real trace files given by the user; None means: use the synthetic stand-in."""

    maf1: str | None = None
    """MAF1: a directory of invocations_per_function_md.anon.dNN.csv files, or a converted .npz cache."""
    maf2: str | None = None
    """MAF2: the AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt file, or a converted .npz cache."""
    cache_dir: str = ".trace_cache"
    """Where converted real traces are cached (converting MAF1 takes minutes; loading seconds)."""
    llm: str | None = None
    """The Azure LLM inference trace 2023: a folder holding AzureLLMInferenceTrace_{conv,code}.csv."""

    def path(self, trace: str) -> str | None:
        return getattr(self, trace, None)

    def source_of(self, trace: str) -> str:
        """What the TSV's ``trace_source`` column says of ``trace``'s traffic ("real MAF1 (DIR)",
        "synthetic stand-in for MAF1"); part of a row's key, so rows of another source never resume."""
        if self.path(trace) or trace not in STAND_INS:
            return self.source_text(trace)
        return f"synthetic stand-in for {trace.upper()}"

    def source_text(self, trace: str) -> str:
        p = self.path(trace)
        if trace == "llm":
            return f"real Azure LLM trace 2023 ({p})" if p else "Azure LLM trace: not given (--llm-dir)"
        return f"real {trace.upper()} ({p})" if p else STAND_INS[trace].description


@functools.lru_cache(maxsize=None)
def base_profiles():
    from alpa_serve_like.profiling.database import ProfilingDatabase, default_database_path

    return ProfilingDatabase.load(default_database_path()).for_device(DEVICE)


@functools.lru_cache(maxsize=16)
def models_of(model_set: str):
    """(model names, profiles) of a model set."""
    from alpa_serve_like.placement import instantiate_models

    if model_set not in MODEL_SETS:
        raise ValueError(f"unknown model set {model_set!r} (known: {', '.join(MODEL_SETS)})")
    return instantiate_models(dict(MODEL_SETS[model_set]), base_profiles())


def cluster_of(case: Case) -> ClusterSpec:
    return cluster_spec(case.num_devices, DEVICE, devices_per_node=case.devices_per_node,
                        memory_budget_gib=case.memory_budget_gib)


def slos_of(models, profiles, slo_scale: float) -> np.ndarray:
    """SLO of each model: ``slo_scale`` x its latency on one device at batch 1 (``core.slo``)."""
    return slo_from_scale(models, profiles, slo_scale)


def _stamp(path: str) -> str:
    """Name, size and modification time of the file at ``path``, or of each file in the folder."""
    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p] if p.exists() else []
    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)


@functools.lru_cache(maxsize=2)
def _load_real(trace: str, path: str, cache_dir: str):
    from alpa_serve_like.trace.azure_functions import convert_maf1, convert_maf2, load_function_trace

    if path.endswith(".npz"):
        return load_function_trace(path)
    # named for the path and for the files' sizes and times: replaced files are converted anew
    cache = (Path(cache_dir) /
             f"{trace}-{zlib.crc32(os.path.abspath(path).encode()):08x}-{zlib.crc32(_stamp(path).encode()):08x}.npz")
    if cache.exists():
        return load_function_trace(cache)
    if os.path.exists(path):  # else the converter names what is missing
        print(f"converting {trace.upper()} {path} to {cache} (once) ...", flush=True)
    convert = convert_maf1 if trace == "maf1" else convert_maf2
    return convert(path, cache)[1]


def load_source(sources: TraceSources, trace: str) -> None:
    """Read (and, once, convert to a cache) the real trace given for ``trace``, if any: a missing or
    unreadable file raises here, before any point, and the worker processes then load the cache
    rather than each converting the raw files."""
    path = sources.path(trace)
    if not path:
        return
    if trace == "llm":
        from alpa_serve_like.osdi_artifact.llm_traffic import arrivals_and_tokens

        arrivals_and_tokens(path)
    else:
        _load_real(trace, path, sources.cache_dir)


def _real_workload(case: Case, sources: TraceSources, models, slo, start_s: float, rng, rate_scale, cv_scale):
    from alpa_serve_like.trace.azure_functions import TraceWindow, replay

    t = _load_real(case.trace, sources.path(case.trace), sources.cache_dir)
    begin = REAL_TRACE_START_S[case.trace] + start_s
    window = TraceWindow(begin, begin + case.duration_s)
    observed = t.function_totals(window).sum() / window.length_s
    if observed <= 0:
        raise ValueError(f"{case.trace.upper()} window [{window.start_s}, {window.end_s}) s has no requests; "
                         f"choose another start in REAL_TRACE_START_S")
    fit_window_s = max(60.0, min(600.0, 60.0 * (case.duration_s // 60)))
    w = replay(t, list(models), window, mode="gamma", rng=rng, slo_s=slo, mapping="striped",
               rate_scale=rate_scale * case.total_rate / observed, cv_scale=cv_scale, fit_window_s=fit_window_s)
    w.meta["source"] = sources.source_text(case.trace)
    return w


def _draw(case: Case, sources: TraceSources, models, slo, start_s: float, seed: int, rate_scale: float,
          cv_scale: float) -> Workload:
    rng = np.random.default_rng(seed)
    if case.trace == "llm":
        if not sources.llm:
            raise ValueError("trace 'llm' is the real Azure LLM inference trace and has no stand-in: pass "
                             "--llm-dir with the folder holding AzureLLMInferenceTrace_{conv,code}.csv")
        from alpa_serve_like.osdi_artifact.llm_traffic import llm_workload

        return llm_workload(sources.llm, models, case.total_rate, start_s, case.duration_s, rng, slo,
                            rate_scale, cv_scale)
    if sources.path(case.trace):
        return _real_workload(case, sources, models, slo, start_s, rng, rate_scale, cv_scale)
    if case.trace not in STAND_INS:
        raise ValueError(f"unknown trace {case.trace!r} (known: {', '.join(STAND_INS)})")
    return stand_in_workload(STAND_INS[case.trace], models, case.total_rate, start_s, case.duration_s, rng, slo,
                             rate_scale, cv_scale)


def build_case(case: Case, sources: TraceSources = TraceSources()):
    """(cluster, models, profiles, train workload, test workload) of ``case``."""
    models, profiles = models_of(case.model_set)
    slo = slos_of(models, profiles, case.slo_scale)
    train = _draw(case, sources, models, slo, 0.0, case.seed, case.rate_scale, case.cv_scale)
    test = _draw(case, sources, models, slo, case.test_offset * case.duration_s, case.seed + TEST_SEED_OFFSET,
                 case.rate_scale * case.test_rate_scale, case.cv_scale * case.test_cv_scale)
    return cluster_of(case), models, profiles, train, test
