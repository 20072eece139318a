"""The memory constraint: per-stage weights add up, activations are reserved once per stage."""
import pytest

from alpa_serve_like import ConfigProfile, ModelProfile, ParallelConfig
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.placement import (MemoryModel, PlacementInfeasibleError, check_models_fit,
                                       instantiate_models, parse_model_counts)
from alpa_serve_like.placement.state import FillState
from builders import make_profile

C1, C2 = ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2)


def _profile(name, weights_by_pp, acts_by_pp):
    configs = {}
    for pp, weights in weights_by_pp.items():
        cfg = ParallelConfig(1, 1, pp)
        configs[cfg] = ConfigProfile(cfg, {1: (0.1,) * pp, 2: (0.2,) * pp}, tuple(weights),
                                     {1: tuple(acts_by_pp[pp]), 2: tuple(2 * a for a in acts_by_pp[pp])})
    return ModelProfile(name, "test-gpu", configs)


def test_weights_add_and_activation_counts_once_per_stage():
    a = _profile("a", {2: [300, 100]}, {2: [10, 50]})
    b = _profile("b", {2: [200, 200]}, {2: [40, 5]})
    mem = MemoryModel({"a": a, "b": b}, budget_bytes=10_000, max_batch_size=1)
    # stage 0: 300 + 200 + max(10, 40) = 540; stage 1: 100 + 200 + max(50, 5) = 350
    assert mem.group_bytes(C2, ["a", "b"]) == 540
    # max batch 2 doubles the activations: stage 0: 500 + 80 = 580, stage 1: 300 + 100 = 400
    assert MemoryModel({"a": a, "b": b}, 10_000, max_batch_size=2).group_bytes(C2, ["a", "b"]) == 580
    # a batch size above every profiled one uses the largest profiled batch
    assert MemoryModel({"a": a, "b": b}, 10_000, max_batch_size=8).group_bytes(C2, ["a", "b"]) == 580


def test_fits_is_inclusive_at_the_budget_and_fill_state_respects_it():
    a = _profile("a", {1: [500]}, {1: [20]})
    profiles = {"a": a, "b": a, "c": a}
    assert MemoryModel(profiles, 1020).fits(C1, ["a", "b"])  # 500 + 500 + 20
    assert not MemoryModel(profiles, 1019).fits(C1, ["a", "b"])
    state = FillState([C1], MemoryModel(profiles, 1020))
    state.add(0, "a")
    assert state.can_add(0, "b") and not state.can_add(0, "a")  # a model never twice on a group
    state.add(0, "b")
    assert not state.can_add(0, "c")
    state.remove(0, "a")
    assert state.can_add(0, "c") and state.usage[0].peak_bytes == 520


def test_missing_config_means_the_model_cannot_go_there():
    a = _profile("a", {1: [500]}, {1: [0]})
    mem = MemoryModel({"a": a}, 10_000)
    assert mem.stage_memory("a", C2) is None
    assert not mem.fits(C2, ["a"])
    assert not FillState([C2], mem).can_add(0, "a")


def test_model_that_fits_nowhere_names_model_need_and_budget():
    big = make_profile("big", weight_bytes=20 * GiB)  # pp=1: 20 GiB, pp=2: 10 GiB, pp=4: 5 GiB
    mem = MemoryModel({"big": big}, budget_bytes=4 * GiB)
    with pytest.raises(PlacementInfeasibleError) as err:
        check_models_fit(mem, ["big"], [C1, C2, ParallelConfig(1, 1, 4)])
    text = str(err.value)
    assert "'big'" in text and "5.00 GiB" in text and "4.00 GiB" in text and "dp1_op1_pp4" in text
    check_models_fit(MemoryModel({"big": big}, 6 * GiB), ["big"], [ParallelConfig(1, 1, 4)])  # fits


def test_instantiate_models_shares_the_base_profile():
    base = {"m": make_profile("m"), "n": make_profile("n")}
    names, profiles = instantiate_models(parse_model_counts("m:3, n"), base)
    assert names == ["m-0", "m-1", "m-2", "n-0"]
    assert profiles["m-2"] is base["m"]
    with pytest.raises(PlacementInfeasibleError, match="'x' is not in the profiling database"):
        instantiate_models({"x": 1}, base)
    with pytest.raises(ValueError, match="count"):
        parse_model_counts("m:zero")
