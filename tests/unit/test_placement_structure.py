"""mp-anneal's helpers: memory-aware device splits and the bootstrapped search objective."""
import numpy as np

from alpa_serve_like import ClusterSpec
from alpa_serve_like.placement import PlacementOptions
from alpa_serve_like.placement.objective import bootstrap_stream, resampled_copies
from alpa_serve_like.placement.problem import PlacementProblem
from alpa_serve_like.placement.structure import device_splits, memory_devices
from alpa_serve_like.core.workload import Workload
from builders import FluidScorer, make_profile, placement_workload


def test_device_splits_give_each_part_its_memory_need_and_the_rest_by_load():
    # 'big' models need 3000 B most compactly (1 device with pp=1 does not fit a 2000 B budget,
    # 2 devices x 1500 B do), 'small' ones 1000 B: needs are 4 x 1.5 = 6 devices and 4 x 0.5 = 2
    profiles = {f"big{i}": make_profile(f"big{i}", weight_bytes=3000) for i in range(4)}
    profiles.update({f"small{i}": make_profile(f"small{i}", weight_bytes=1000) for i in range(4)})
    counts = {m: (40 if m.startswith("small") else 10) for m in profiles}
    workload = placement_workload(counts, duration_s=100.0)
    problem = PlacementProblem(ClusterSpec(num_devices=16, devices_per_node=8, memory_budget_bytes=2000),
                               list(profiles), profiles, workload, PlacementOptions(scorer_factory=FluidScorer))
    small, big = [m for m in profiles if m.startswith("small")], [m for m in profiles if m.startswith("big")]
    assert abs(memory_devices(problem, big) - 4 * 3020 / 2000) < 1e-9  # 1500 B + 10 B act per device, x2
    splits = device_splits(problem, [small, big], granule=4, limit=10)
    assert splits and all(sum(s) == 16 and s[1] >= 4 for s in splits)
    # every part's load is equal-ish per request, small has 4x the traffic: the closest split to
    # "need first, then load" gives small the larger share beyond its need
    assert splits[0] == [8, 8]
    assert device_splits(problem, [small, big], granule=4, limit=1) == [splits[0]]


def test_bootstrap_keeps_rates_and_the_training_sample():
    rng = np.random.default_rng(3)
    gaps = rng.gamma(1 / 16, 16 / 2.0, size=4000)  # rate 2/s, CV 4
    times = np.cumsum(gaps)
    times = times[times < 1000.0]
    w = Workload(times, np.zeros(len(times), np.int32), np.full(len(times), 1.0), ("m",), meta={"span_s": 1000.0})
    big = resampled_copies(w, 3, np.random.default_rng(0))
    assert np.array_equal(big.arrival_s[: len(w)], w.arrival_s)  # the sample itself comes first
    assert big.span_s == 4000.0 and big.arrival_s[-1] < 4000.0
    per_span = np.histogram(big.arrival_s, bins=[0, 1000, 2000, 3000, 4000])[0]
    assert np.all(np.abs(per_span - len(w)) < 0.5 * len(w))  # same rate up to burst noise
    again = resampled_copies(w, 3, np.random.default_rng(0))
    assert np.array_equal(again.arrival_s, big.arrival_s)  # deterministic given the rng
    stream = bootstrap_stream(np.array([1.0]), 10.0, np.random.default_rng(0))
    assert np.allclose(np.diff(stream), 1.0) and stream[-1] < 10.0
