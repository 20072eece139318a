"""Builders of tiny profiles, databases, placements and workloads shared by all tests."""
from __future__ import annotations

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig


def make_profile(
    name: str = "m0",
    device: str = "test-gpu",
    stage_latency_s: dict | None = None,
    weight_bytes: int = 1_000,
    batch_sizes=(1, 2, 4),
) -> ModelProfile:
    """A profile whose (1,1,pp) configs split ``1.0 * batch`` seconds evenly over pp stages.

    ``stage_latency_s`` may map ParallelConfig -> {batch: [per-stage seconds]} to override.
    """
    configs = {}
    for pp in (1, 2, 4):
        cfg = ParallelConfig(1, 1, pp)
        lat = {b: tuple([1.0 * b / pp] * pp) for b in batch_sizes}
        if stage_latency_s and cfg in stage_latency_s:
            lat = {b: tuple(v) for b, v in stage_latency_s[cfg].items()}
        configs[cfg] = ConfigProfile(
            config=cfg,
            stage_latency_s=lat,
            weight_bytes=tuple([weight_bytes // pp] * pp),
            act_bytes={b: tuple([10 * b] * pp) for b in lat},
        )
    return ModelProfile(name=name, device=device, configs=configs, source="test")


def placement_workload(counts_by_model: dict, duration_s: float = 10.0, slo_s: float = 10.0,
                       bursts: dict | None = None):
    """A Workload for placement tests: ``counts_by_model[m]`` requests of m evenly spread over
    ``duration_s``, unless ``bursts[m] = [(t, n), ...]`` gives n simultaneous requests at time t."""
    import numpy as np

    from alpa_serve_like.core.workload import Workload

    names = tuple(counts_by_model)
    arrivals, ids = [], []
    for i, m in enumerate(names):
        if bursts and m in bursts:
            times = [t for t, n in bursts[m] for _ in range(n)]
        else:
            n = counts_by_model[m]
            times = list(np.arange(n) * (duration_s / max(n, 1)))
        arrivals += times
        ids += [i] * len(times)
    order = np.argsort(np.asarray(arrivals, dtype=float), kind="stable")
    arrival = np.asarray(arrivals, dtype=float)[order]
    return Workload(arrival, np.asarray(ids, dtype=np.int32)[order], np.full(len(arrival), slo_s), names,
                    meta={"name": "placement-test", "span_s": duration_s})


class FluidScorer:
    """Test double for the simulator's ``PlacementScorer`` in placement-policy unit tests.

    No queueing: a group hosting k models gives each ``span / bottleneck / k`` request slots over
    the workload's ``span_s``, and only if its end-to-end latency meets the model's SLO; a model serves
    ``min(requests, slots)``. Hand-computable, so tests can state what the greedy must do.
    Construct with ``FluidScorer(workload, profiles, sim_options)`` (the factory signature).
    """

    def __init__(self, workload, profiles, sim_options=None):
        import numpy as np

        self.workload, self.profiles = workload, profiles
        self.span_s = max(workload.span_s, 1e-9)
        self.total = np.bincount(workload.model_id, minlength=len(workload.model_names))
        self.slo = {n: float(np.max(workload.slo_s[workload.model_id == i], initial=0.0))
                    for i, n in enumerate(workload.model_names)}
        self.calls = 0

    def score(self, placement):
        import types

        import numpy as np

        self.calls += 1
        slots = dict.fromkeys(self.workload.model_names, 0.0)
        for g in placement.groups:
            for m in g.models:
                entry = self.profiles[m].configs[g.config]
                if m in slots and entry.total_latency_s(1) <= self.slo[m]:
                    slots[m] += self.span_s / entry.max_stage_latency_s(1) / len(g.models)
        served = np.array([min(t, int(slots[n] + 1e-9)) for n, t in zip(self.workload.model_names, self.total)])
        total = self.total
        return types.SimpleNamespace(attainment=served.sum() / max(total.sum(), 1), model_names=self.workload.model_names,
                                     per_model_served=served, per_model_total=total)


def fluid_attainment(placement, workload, profiles, sim_options=None) -> float:
    """``evaluator`` for placement.evaluate using FluidScorer (Placement only)."""
    return float(FluidScorer(workload, profiles).score(placement).attainment)


def make_database(*profiles):
    """A ProfilingDatabase holding ``profiles`` (default: one ``make_profile()``)."""
    from alpa_serve_like.profiling.database import ProfilingDatabase

    db = ProfilingDatabase()
    for profile in profiles or (make_profile(),):
        db.add(profile)
    return db


def write_cli_inputs(directory, arrival_s=(0.0, 1.0), model_id=(0, 1), slo_s: float = 3.0) -> dict:
    """A database of one base model 'bert-x' on 'test-gpu' (``db.pkl``) and a workload of its
    copies bert-x-0 / bert-x-1 (``w.npz``) in ``directory``, for command-line tests; returns
    ``{"db": path, "workload": path}`` as strings."""
    import numpy as np

    from alpa_serve_like.core.workload import Workload
    from alpa_serve_like.trace.workload_io import save_workload

    make_database(make_profile("bert-x", device="test-gpu")).save(f"{directory}/db.pkl")
    w = Workload(np.asarray(arrival_s, dtype=float), np.asarray(model_id, dtype=np.int32),
                 np.full(len(arrival_s), slo_s), ("bert-x-0", "bert-x-1"))
    save_workload(w, f"{directory}/w.npz")
    return {"db": f"{directory}/db.pkl", "workload": f"{directory}/w.npz"}


def write_legacy_pickle(path, results: dict, protocol: int = 4, slots: bool = False) -> None:
    """Write an AlpaServe-format database to ``path``: ``pickle.dumps`` of a dict of
    ``alpa_serve.profiling.ProfilingResult`` built from ``results``.

    ``results[model] = {(dp, op, pp): (latency {batch: [...]}, act_mem {batch: [...]}, weight_mem
    [...])}``. The alpa_serve classes are stand-ins with AlpaServe's field layout, registered in
    ``sys.modules`` only while pickling, so loading the file afterwards cannot import them.
    """
    import pickle

    legacy = make_legacy_classes(slots=slots)
    data = {
        model: legacy.ProfilingResult(
            model_name=model,
            para_dict={legacy.ParallelConfig(*key): legacy.LatencyMemData(latency=lat, act_mem=act, weight_mem=w)
                       for key, (lat, act, w) in per_config.items()},
            preprocess_cpu=0.0,
            postprocess_cpu=0.0,
        )
        for model, per_config in results.items()
    }
    with registered_legacy_module(legacy):
        payload = pickle.dumps(data, protocol=protocol)
    with open(path, "wb") as f:
        f.write(payload)


def make_legacy_classes(slots: bool = False):
    """Stand-ins of ``alpa_serve.profiling``'s ParallelConfig (namedtuple), LatencyMemData and
    ProfilingResult (dataclasses), as a module object that is not yet in ``sys.modules``."""
    import dataclasses
    import types
    from collections import namedtuple

    module = types.ModuleType("alpa_serve.profiling")
    module.ParallelConfig = namedtuple("ParallelConfig", ("dp", "op", "pp"), module="alpa_serve.profiling")

    @dataclasses.dataclass(slots=slots)
    class LatencyMemData:
        latency: dict
        act_mem: dict
        weight_mem: list

    @dataclasses.dataclass(slots=slots)
    class ProfilingResult:
        model_name: str
        para_dict: dict
        preprocess_cpu: float
        postprocess_cpu: float

    for cls in (LatencyMemData, ProfilingResult):
        cls.__module__ = "alpa_serve.profiling"
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    return module


class registered_legacy_module:
    """Context manager: ``alpa_serve`` / ``alpa_serve.profiling`` in sys.modules, removed on exit."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        import sys
        import types

        assert "alpa_serve" not in sys.modules, "a real alpa_serve must not be loaded in tests"
        package = types.ModuleType("alpa_serve")
        package.profiling = self.module
        sys.modules["alpa_serve"] = package
        sys.modules["alpa_serve.profiling"] = self.module
        return self.module

    def __exit__(self, *exc):
        import sys

        sys.modules.pop("alpa_serve.profiling", None)
        sys.modules.pop("alpa_serve", None)
        return False


# --- raw trace files in the real formats (for trace/ tests) -----------------------------------------

def write_maf1_day(directory, day: int, rows) -> "object":
    """Write ``invocations_per_function_md.anon.dNN.csv``; ``rows`` are (owner, app, func, trigger,
    {minute (1-based): count}) tuples, or raw strings written as they are (for broken rows)."""
    from pathlib import Path

    path = Path(directory) / f"invocations_per_function_md.anon.d{day:02d}.csv"
    lines = [",".join(["HashOwner", "HashApp", "HashFunction", "Trigger"] + [str(i) for i in range(1, 1441)])]
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
            continue
        *key, counts = row
        cells = ["0"] * 1440
        for minute, count in counts.items():
            cells[minute - 1] = str(count)
        lines.append(",".join(list(key) + cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_maf2(path, rows) -> "object":
    """Write a MAF2 invocation file; ``rows`` are (app, func, end_timestamp, duration) or raw strings."""
    from pathlib import Path

    lines = ["app,func,end_timestamp,duration"]
    lines += [r if isinstance(r, str) else f"{r[0]},{r[1]},{r[2]!r},{r[3]!r}" for r in rows]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


# --- runtime (Ray Serve) tests ------------------------------------------------------------------------

def uniform_stage_profile(name: str = "bert-tiny", device: str = "cpu", stage_s: float = 0.01,
                          ops=(1,), pps=(1, 2), batch_sizes=(1, 2, 4, 8)):
    """A profile where every stage of every (1, op, pp) config takes ``stage_s * batch`` seconds."""
    configs = {}
    for op in ops:
        for pp in pps:
            cfg = ParallelConfig(1, op, pp)
            configs[cfg] = ConfigProfile(
                config=cfg, stage_latency_s={b: tuple([stage_s * b] * pp) for b in batch_sizes},
                weight_bytes=tuple([1_000] * pp), act_bytes={b: tuple([10 * b] * pp) for b in batch_sizes})
    return ModelProfile(name=name, device=device, configs=configs, source="test")
