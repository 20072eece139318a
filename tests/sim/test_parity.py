"""The numba kernel and the reference event-heap simulator agree on random small cases."""
import dataclasses

import numpy as np

from alpa_serve_like.simulator import PlacementScorer, simulate
from sim_cases import random_case

NUM_CASES = 200


def _assert_same(a, b, where):
    for name in ("segment", "group", "reason", "batch"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{where}: {name}")
    for name in ("start_s", "finish_s"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=f"{where}: {name} NaNs")
        assert np.all(np.abs(x[~np.isnan(x)] - y[~np.isnan(y)]) <= 1e-9), f"{where}: {name}"
    for ua, ub in zip(a.group_utilisation, b.group_utilisation):
        np.testing.assert_allclose(ua, ub, rtol=1e-12, atol=1e-12, err_msg=f"{where}: utilisation")
    assert a.attainment == b.attainment or (np.isnan(a.attainment) and np.isnan(b.attainment))


def test_kernel_matches_reference_on_random_cases():
    rng = np.random.default_rng(20240601)
    stats = {"batched": 0, "slo": 0, "unplaced": 0, "schedules": 0, "sq": 0}
    for case in range(NUM_CASES):
        placement, workload, profiles, options = random_case(rng)
        fast = simulate(placement, workload, profiles, options)
        ref = simulate(placement, workload, profiles, dataclasses.replace(options, backend="reference"))
        _assert_same(fast, ref, f"case {case} ({options})")
        score = PlacementScorer(workload, profiles, options).score(placement)
        assert score.attainment == fast.attainment or np.isnan(score.attainment)
        np.testing.assert_array_equal(score.per_model_served, fast.per_model_counts()[0])
        sizes = np.bincount(fast.batch[fast.batch >= 0])
        stats["batched"] += int((sizes > 1).any())
        stats["slo"] += int((fast.reason == 1).any())
        stats["unplaced"] += int((fast.reason == 2).any())
        stats["schedules"] += int(fast.segment.max() > 0)
        stats["sq"] += options.scheduling.routing == "shortest_queue"
    # The random cases must actually exercise every feature, or the comparison proves little.
    assert all(v >= 10 for v in stats.values()), stats


def test_uncompiled_kernel_matches_compiled_kernel():
    rng = np.random.default_rng(7)
    for case in range(5):
        placement, workload, profiles, options = random_case(rng)
        compiled = simulate(placement, workload, profiles, options)
        plain = simulate(placement, workload, profiles, dataclasses.replace(options, jit=False))
        _assert_same(compiled, plain, f"case {case}")


def test_env_switch_runs_the_python_function(monkeypatch):
    from alpa_serve_like.simulator import kernel

    monkeypatch.setenv("ALPA_SERVE_LIKE_DISABLE_JIT", "1")
    assert kernel.get_loop(True) is kernel._simulate_loop
    monkeypatch.setenv("ALPA_SERVE_LIKE_DISABLE_JIT", "0")
    assert kernel.get_loop(True) is not kernel._simulate_loop
