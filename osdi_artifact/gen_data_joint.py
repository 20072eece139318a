"""When do AlpaServe's meshes win and when PARIS-style partitions? The joint search on 2 A100-80GB.

Two scenarios, each searched on a training draw of the traffic and scored on a second draw:

- ``small-nets``: Poisson requests spread evenly over ResNet-50, ViT and BERT-base (sequence 64),
  profiles per slice (and the whole GPU as 7g) from the MIGPerf-calibrated slice model; server
  batching up to 16; SLO = 3x each network's batch-1 latency on the whole GPU. Meshes can only
  replicate here (these networks have single-device profiles).
- ``large-models``: four copies of bert-6.7b (13.4 GB of fp16 weights each), Gamma arrivals with
  CV 4 (bursty), equal rates; analytic profiles on the whole GPU (op, pp in {1, 2}) and on each
  slice (``slice_device``: the slice's share of compute and bandwidth; the README notes this
  model's error on slices); no batching; SLO = 5x the batch-1 latency on one whole GPU (AlpaServe).

For each (scenario, load) the joint search (``placement/joint_search.py``: ``mp-search`` on the
whole GPUs, every multiset of maximal 1g/2g/3g/7g geometries on the rest) picks, on the training
draw, the best candidate of each class: ``meshes`` (both GPUs whole), ``partitions`` (both cut),
``mixed`` (one of each); the TSV reports each one's attainment on the test draw. Columns:
``scenario, load_rps, kind, layout, train_attainment, slo_attainment, gpus``.
Usage: ``python -m alpa_serve_like.osdi_artifact.gen_data_joint [--quick] --out X.tsv``.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from alpa_serve_like.core import mig
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.core.zoo import get_spec
from alpa_serve_like.cost_model.mig_profiles import slice_profile
from alpa_serve_like.cost_model.mig_slices import slice_latency_s
from alpa_serve_like.cost_model.profile_builder import build_profile
from alpa_serve_like.osdi_artifact.gen_data_cli import script_parser
from alpa_serve_like.osdi_artifact.results import RowWriter
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.joint_search import joint_search
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions
from alpa_serve_like.simulator.mixed import simulate_plan
from alpa_serve_like.trace.arrival import gamma

GPU = "a100-80gb"
NUM_GPUS = 2
NETS = ("resnet50", "vision_transformer", "bert-base")
LARGE = tuple(f"bert-6.7b-{i}" for i in range(8))
COLUMNS = ("scenario", "load_rps", "kind", "layout", "train_attainment", "slo_attainment", "gpus")
LOADS = {"small-nets": (400.0, 1600.0, 3200.0, 6400.0), "large-models": (2.0, 4.0, 8.0, 16.0)}
MESH_CONFIGS = [ParallelConfig(1, op, pp) for op in (1, 2) for pp in (1, 2) if op * pp <= NUM_GPUS]


def small_nets_profiles() -> dict:
    out: dict = {}
    for net in NETS:
        for device in [p.device_name for p in mig.profiles(GPU)] + [GPU]:
            out.setdefault(device, {})[net] = slice_profile(net, device, (1, 2, 4, 8, 16))
    return out


def large_models_profiles() -> dict:
    spec = get_spec("bert-6.7b")
    out: dict = {GPU: build_profile(spec, GPU, configs=MESH_CONFIGS, batch_sizes=(1,))}
    for p in mig.profiles(GPU):
        out[p.device_name] = build_profile(spec, p.device_name, configs=[ParallelConfig(1, 1, 1)], batch_sizes=(1,))
    return {device: {name: replace(prof, name=name) for name in LARGE} for device, prof in out.items()}


def traffic(scenario: str, load_rps: float, duration_s: float, profiles: dict, rng: np.random.Generator) -> Workload:
    if scenario == "small-nets":
        n = rng.poisson(load_rps * duration_s)
        arrival = np.sort(rng.uniform(0.0, duration_s, n))
        model = rng.integers(0, len(NETS), n)
        base = np.array([slice_latency_s(m, 7, 1, 64 if m == "bert-base" else None) for m in NETS])
        return Workload(arrival, model, 3.0 * base[model], NETS)
    per_model = [gamma(load_rps / len(LARGE), 4.0, duration_s, rng) for _ in LARGE]
    arrival = np.concatenate(per_model)
    model = np.concatenate([np.full(len(a), i) for i, a in enumerate(per_model)])
    order = np.argsort(arrival, kind="stable")
    single = profiles[GPU][LARGE[0]].config(ParallelConfig(1, 1, 1)).total_latency_s(1)
    return Workload(arrival[order], model[order], np.full(len(order), 5.0 * single), LARGE)


def kind_of(candidate) -> str:
    if candidate.whole_gpus == NUM_GPUS:
        return "meshes"
    return "partitions" if candidate.whole_gpus == 0 else "mixed"


def main(argv=None) -> int:
    args = script_parser("joint", "joint search over MIG geometries and model-parallel groups",
                         "shorter traffic (5 s small-nets, 60 s large-models)", "joint.tsv").parse_args(argv)
    t0 = time.perf_counter()
    out = args.out
    with RowWriter(out, COLUMNS, overwrite=True) as w:
        for scenario in ("small-nets", "large-models"):
            small = scenario == "small-nets"
            profiles = small_nets_profiles() if small else large_models_profiles()
            duration_s = (5.0 if args.quick else 30.0) if small else (60.0 if args.quick else 300.0)
            sim = SimOptions(SchedulingOptions(max_batch_size=16 if small else 1))
            for load in LOADS[scenario]:
                train = traffic(scenario, load, duration_s, profiles, np.random.default_rng(int(load * 10)))
                test = traffic(scenario, load, duration_s, profiles, np.random.default_rng(int(load * 10) + 1))
                found = joint_search(GPU, NUM_GPUS, profiles, train, placement_options=PlacementOptions(max_op=2, max_pp=2, scheduling=sim.scheduling),
                                     sim_options=sim, rng=np.random.default_rng(0))
                for kind in ("meshes", "mixed", "partitions"):
                    best = next((c for c in found if kind_of(c) == kind), None)
                    if best is None:
                        continue
                    test_att = simulate_plan(best.placement, profiles, test, sim).attainment
                    w.write({"scenario": scenario, "load_rps": load, "kind": kind, "layout": best.label(),
                             "train_attainment": f"{best.attainment:.4f}", "slo_attainment": f"{test_att:.4f}",
                             "gpus": NUM_GPUS})
                print(f"{scenario} {load:g} req/s done ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
