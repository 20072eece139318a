"""When do MIG slices beat whole GPUs? Every maximal geometry of one A100-80GB, scored by simulation.

Traffic: Poisson requests spread evenly over ResNet-50, ViT and BERT-base (sequence 64), batched by
the server up to 16; SLO = ``slo_scale`` x the network's batch-1 latency on the whole GPU (7g).
Profiles per slice from the calibrated MIGPerf model (``cost_model.mig_profiles``); every instance
hosts all three networks; routing ``earliest_finish``, admission on. One TSV row per
(SLO scale, load, geometry): ``slo_scale, load_rps, geometry, slo_attainment, best, gpus``.
Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_mig_geometry [--quick] --out X.tsv``.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from alpa_serve_like.core.workload import Workload
from alpa_serve_like.cost_model.mig_profiles import slice_profiles
from alpa_serve_like.cost_model.mig_slices import slice_latency_s
from alpa_serve_like.osdi_artifact.gen_data_cli import script_parser
from alpa_serve_like.osdi_artifact.results import RowWriter
from alpa_serve_like.placement.geometry_search import search_geometries
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions

NETWORKS = ("resnet50", "vision_transformer", "bert-base")
COLUMNS = ("slo_scale", "load_rps", "geometry", "slo_attainment", "best", "gpus")


def traffic(load_rps: float, duration_s: float, slo_scale: float, rng: np.random.Generator) -> Workload:
    n = rng.poisson(load_rps * duration_s)
    arrival = np.sort(rng.uniform(0.0, duration_s, n))
    model = rng.integers(0, len(NETWORKS), n)
    base = [slice_latency_s(m, 7, 1, 64 if m == "bert-base" else None) for m in NETWORKS]
    return Workload(arrival, model, slo_scale * np.asarray(base)[model], NETWORKS)


def main(argv=None) -> int:
    args = script_parser("mig_geometry", "score every MIG geometry of one A100-80GB on the same traffic",
                         "5 s of traffic per load instead of 30 s", "mig_geometry.tsv").parse_args(argv)
    by_device: dict = {}
    for net in NETWORKS:
        for prof in slice_profiles(net):
            by_device.setdefault(prof.device, {})[net] = prof
    duration_s = 5.0 if args.quick else 30.0
    t0 = time.perf_counter()
    out = args.out
    with RowWriter(out, COLUMNS, overwrite=True) as w:
        for slo_scale in (1.5, 3.0):
            for load in (100.0, 200.0, 400.0, 800.0, 1600.0):
                workload = traffic(load, duration_s, slo_scale, np.random.default_rng(int(load)))
                scores = search_geometries("a100-80gb", 1, by_device, workload, SimOptions(SchedulingOptions(max_batch_size=16)))
                for i, s in enumerate(scores):
                    w.write({"slo_scale": slo_scale, "load_rps": load,
                             "geometry": " | ".join("+".join(f"{k}g" for k in g) for g in s.geometries),
                             "slo_attainment": f"{s.attainment:.4f}", "best": int(i == 0), "gpus": 1})
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
