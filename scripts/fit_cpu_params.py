"""Refit the cost model's CPU constants (``CPU_PARAMS`` in alpa_serve_like/cost_model/params.py).

Times the tiny zoo models with the measured profiler (torch, one thread, op=1, pp=1, batch 1/4/16),
fits the GEMM efficiency, GEMM knee and per-layer overhead to all of them jointly by least
squares and prints them with the error on each model. The torch models have no output head while
the cost model has one, which the fit absorbs. Needs the [runtime] extra (torch). Run from the
repository root:

    python scripts/fit_cpu_params.py
"""
from __future__ import annotations

import torch

from alpa_serve_like.cost_model import calibration
from alpa_serve_like.cost_model.params import CPU_PARAMS
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.models.measure import measure_profile
from alpa_serve_like.core.zoo import TINY_MODELS, get_spec

FIELDS = ("gemm_efficiency", "gemm_knee_ridge_multiple", "layer_overhead_s")
BATCH_SIZES = (1, 4, 16)


def measured_table(name: str) -> calibration.ReferenceTable:
    config = ParallelConfig(1, 1, 1)
    profile = measure_profile(get_spec(name), [config], BATCH_SIZES, device="cpu", warmup=2, repeats=7)
    return calibration.ReferenceTable(
        {(1, 1): dict(profile.config(config).stage_latency_s)}, device="cpu",
        source=f"torch timings of {name} on this CPU (1 thread)",
    )


def main() -> None:
    torch.set_num_threads(1)  # the "cpu" device is one core
    tables = {name: measured_table(name) for name in TINY_MODELS}
    cases = [(table, get_spec(name)) for name, table in tables.items()]
    params = calibration.fit_params(cases[0][0], start=CPU_PARAMS, spec=cases[0][1], fields=FIELDS,
                                    extra=cases[1:])
    print("fitted constants (paste into CPU_PARAMS in alpa_serve_like/cost_model/params.py):")
    print(calibration.format_params(params, FIELDS))
    for name, table in tables.items():
        print(calibration.format_report(table, params, get_spec(name)))


if __name__ == "__main__":
    main()
