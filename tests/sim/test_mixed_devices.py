"""Simulation on mixed single-device groups, and the MIG geometry search on hand-checkable traffic.

Toy profiles: on a k-slice instance a batch of one takes 0.01 + 0.01 / k seconds (1g: 20 ms,
7g: 11.43 ms). Requests arrive every 5 ms (200/s) with a 100 ms SLO.
"""
import numpy as np
import pytest

from alpa_serve_like.core import mig
from alpa_serve_like.core.model_profile import ConfigProfile, ModelProfile
from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.placement.geometry_search import search_geometries
from alpa_serve_like.scheduling import SchedulingOptions
from alpa_serve_like.simulator import SimOptions
from alpa_serve_like.simulator.mixed import simulate_mixed

ONE = ParallelConfig(1, 1, 1)
GPU = "a100-80gb"


def _profiles(weight_bytes=None):
    out = {}
    for p in mig.profiles(GPU):
        lat = {1: (0.01 + 0.01 / p.compute_slices,)}
        models = {"small": ModelProfile("small", p.device_name, {ONE: ConfigProfile(ONE, lat, (10**9,))})}
        if weight_bytes:
            models["big"] = ModelProfile("big", p.device_name, {ONE: ConfigProfile(ONE, lat, (weight_bytes,))})
        out[p.device_name] = models
    return out


def _workload(names=("small",), n=400):
    arrival = np.arange(n) * 0.005
    return Workload(arrival, np.arange(n) % len(names), np.full(n, 0.1), names)


def test_one_7g_falls_behind_and_seven_1g_keep_up():
    w = _workload()
    whole = simulate_mixed([f"{GPU}/7g.80gb"], [["small"]], _profiles(), w)
    sliced = simulate_mixed([f"{GPU}/1g.10gb"] * 7, [["small"]] * 7, _profiles(), w, group_compute=[1] * 7)
    assert sliced.attainment == 1.0
    # 7g serves one every 11.43 ms while one arrives every 5 ms; admission keeps only what meets 100 ms.
    assert 0.4 < whole.attainment < 0.5
    assert np.nanmax(sliced.latency_s) == pytest.approx(0.02)


def test_reference_and_kernel_agree_on_mixed_groups():
    w = _workload()
    devices, models = [f"{GPU}/3g.40gb", f"{GPU}/1g.10gb"], [["small"], ["small"]]
    ref = simulate_mixed(devices, models, _profiles(), w, SimOptions(backend="reference"))
    ker = simulate_mixed(devices, models, _profiles(), w, SimOptions(backend="kernel", jit=False))
    assert np.array_equal(ref.group, ker.group) and np.allclose(ref.finish_s, ker.finish_s, equal_nan=True)


def test_geometry_search_prefers_slices_for_small_requests_and_a_big_slice_for_a_big_model():
    best = search_geometries(GPU, 1, _profiles(), _workload())
    assert best[0].attainment == 1.0 and best[0].geometries != ((7,),)
    assert [s.attainment for s in best] == sorted((s.attainment for s in best), reverse=True)
    whole = next(s for s in best if s.geometries == ((7,),))
    assert whole.attainment < 0.5 and whole is best[-1]
    # "big" needs 30 GB: only 3g.40gb and 7g.80gb hold it (90 % of 40 / 80 GB).
    scores = search_geometries(GPU, 1, _profiles(weight_bytes=30 * 10**9), _workload(("small", "big")))
    for s in scores:
        assert all(("big" in m) == (d.endswith(("3g.40gb", "7g.80gb"))) for d, m in zip(s.group_devices, s.group_models))
    assert all(3 in s.geometries[0] or 7 in s.geometries[0] for s in scores if s.attainment > 0.9)


def test_elsa_prefers_the_small_instance():
    # Light traffic (one request every 50 ms): ELSA keeps everything on the 1g instance (20 ms,
    # well inside the 100 ms SLO), earliest finish on the faster 7g one.
    n = 40
    w = Workload(np.arange(n) * 0.05, np.zeros(n), np.full(n, 0.1), ("small",))
    devices, models = [f"{GPU}/7g.80gb", f"{GPU}/1g.10gb"], [["small"], ["small"]]
    elsa = simulate_mixed(devices, models, _profiles(), w, SimOptions(SchedulingOptions(routing="elsa")), group_compute=[7, 1])
    fast = simulate_mixed(devices, models, _profiles(), w, SimOptions(), group_compute=[7, 1])
    assert set(elsa.group.tolist()) == {1} and set(fast.group.tolist()) == {0}
    assert elsa.attainment == fast.attainment == 1.0


def test_one_device_type_matches_simulate_on_the_same_placement():
    from builders import make_profile

    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.simulator import simulate

    profiles = {m: make_profile(m) for m in ("a", "b")}
    groups = [(ParallelConfig(1, 1, 2), ("a", "b")), (ONE, ("a",)), (ParallelConfig(1, 1, 4), ("b",))]
    rng = np.random.default_rng(0)
    n = 300
    w = Workload(np.sort(rng.uniform(0, 100, n)), rng.integers(0, 2, n), np.full(n, 6.0), ("a", "b"))
    opts = SimOptions(SchedulingOptions(max_batch_size=4), backend="reference")
    want = simulate(Placement(tuple(GroupPlacement(c, m) for c, m in groups)), w, profiles, opts)
    got = simulate_mixed(["test-gpu"] * 3, [m for _, m in groups], {"test-gpu": profiles}, w, opts,
                         group_configs=[c for c, _ in groups])
    assert np.array_equal(got.group, want.group) and np.array_equal(got.reason, want.reason)
    assert np.allclose(got.finish_s, want.finish_s, equal_nan=True)


def test_pipelines_of_two_generations_take_their_own_latencies():
    from builders import make_profile

    # v100: 1 s per request through a 2-stage pipeline (0.5 + 0.5); a100: 0.25 s on one device.
    v100 = {"a": make_profile("a", "v100-16gb")}
    a100 = {"a": make_profile("a", "a100-80gb", stage_latency_s={ONE: {1: [0.25]}})}
    w = Workload(np.array([0.0, 0.1]), np.zeros(2), np.full(2, 5.0), ("a",))
    r = simulate_mixed(["v100-16gb", "a100-80gb"], [["a"], ["a"]], {"v100-16gb": v100, "a100-80gb": a100}, w,
                       SimOptions(backend="reference"), group_configs=[ParallelConfig(1, 1, 2), ONE])
    # earliest finish: the first request to the A100 (0.25), the second too (0.5 < 1.1 on the V100s)
    assert r.group.tolist() == [1, 1] and r.finish_s.tolist() == pytest.approx([0.25, 0.5])
    with pytest.raises(ValueError, match="one of each per group"):
        simulate_mixed(["v100-16gb"], [["a"], ["a"]], {"v100-16gb": v100}, w)


def test_identical_instances_split_models_that_do_not_all_fit_one():
    from alpa_serve_like.placement.geometry_search import assign_models

    names = tuple(f"m{i}" for i in range(8))
    big = {f"{GPU}/7g.80gb": {m: ModelProfile(m, f"{GPU}/7g.80gb", {ONE: ConfigProfile(ONE, {1: (0.01,)},
                                                                                        (13 * 10**9,))})
                              for m in names}}
    # 90 % of 80 GB holds five 13 GB models: the second instance takes the three the first left out
    first, second = assign_models([f"{GPU}/7g.80gb"] * 2, names, big, 0.9)
    assert first == names[:5] and second == names[:2] + names[5:]
    # models some other group hosts already come last
    (only,) = assign_models([f"{GPU}/7g.80gb"], names, big, 0.9, covered={"m0": 1, "m1": 1, "m2": 1})
    assert only == names[3:]
