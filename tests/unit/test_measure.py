"""The measured profiler on CPU with a tiny model: shapes of the profile and sanity of the numbers."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from alpa_serve_like import ModelSpec, ParallelConfig, ProfileError  # noqa: E402
from alpa_serve_like.models import build_stage  # noqa: E402
from alpa_serve_like.models.measure import median_latency_s, measure_profile, normalize_device_name  # noqa: E402

TINY = ModelSpec("bert-micro", "bert", num_layers=2, hidden_size=64, num_heads=2, seq_len=32, vocab_size=100)
CONFIGS = [ParallelConfig(1, 1, 1), ParallelConfig(1, 1, 2), ParallelConfig(2, 1, 2)]


@pytest.fixture(scope="module")
def profile():
    lines = []
    result = measure_profile(TINY, CONFIGS, [1, 4], warmup=1, repeats=3, progress=lines.append)
    return result, lines


def test_profile_has_every_config_and_stage(profile):
    result, lines = profile
    result.validate()
    assert result.source == "measured" and result.device == "cpu" and result.spec == TINY
    assert set(result.configs) == set(CONFIGS)
    for config in CONFIGS:
        entry = result.config(config)
        assert entry.batch_sizes == (1, 4)
        assert len(entry.weight_bytes) == config.pp
        for batch in (1, 4):
            assert len(entry.latency_s(batch)) == config.pp
            assert all(t > 0 for t in entry.latency_s(batch))
            assert len(entry.act_bytes[batch]) == config.pp and all(a > 0 for a in entry.act_bytes[batch])
    assert any("pp=2 batch=4" in line for line in lines)


def test_weight_bytes_are_the_stage_parameter_bytes(profile):
    result, _ = profile
    assert result.config(ParallelConfig(1, 1, 1)).weight_bytes == (4 * TINY.num_params,)
    pp2 = result.config(ParallelConfig(1, 1, 2)).weight_bytes
    assert pp2 == tuple(build_stage(TINY, 2, s).weight_bytes for s in range(2))
    assert sum(pp2) == 4 * TINY.num_params


class FakeClock:
    """A clock that only moves when the fake work says so (machine load cannot decide the test)."""

    def __init__(self):
        self.now_s = 0.0

    def __call__(self):
        return self.now_s


def test_timing_skips_warm_up_and_takes_the_median_of_repeats():
    clock = FakeClock()
    # The first call costs 100 s (torch's first-call costs); then 4 s, 1 s, 3 s, 2 s, 50 s (an outlier).
    costs = iter([100.0, 4.0, 1.0, 3.0, 2.0, 50.0])
    syncs = []

    def run():
        clock.now_s += next(costs)

    assert median_latency_s(run, lambda: syncs.append(clock.now_s), warmup=1, repeats=5, clock=clock) == 3.0
    assert len(syncs) == 6  # once after warm-up, once inside each timed run


def test_bigger_batches_cost_more():
    """Timed with a clock that counts floating-point operations instead of seconds, so machine load
    cannot decide it: 4 full-length sequences cost exactly 4x one, stage by stage."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        result = measure_profile(TINY, [ParallelConfig(1, 1, 2)], [1, 4], warmup=1, repeats=3,
                                 clock=lambda: float(counter.get_total_flops()))
    entry = result.config(ParallelConfig(1, 1, 2))
    for one, four in zip(entry.latency_s(1), entry.latency_s(4)):
        assert one > 0 and four == pytest.approx(4 * one, rel=1e-6)
    assert entry.act_bytes[4][0] > entry.act_bytes[1][0]  # the estimate scales with the batch


def test_rejects_what_it_cannot_measure():
    with pytest.raises(ProfileError, match="op=1 only"):
        measure_profile(TINY, [ParallelConfig(1, 2, 1)], [1])
    with pytest.raises(ProfileError, match="pp <= num_layers"):
        measure_profile(TINY, [ParallelConfig(1, 1, 4)], [1])
    with pytest.raises(ProfileError, match="batch sizes"):
        measure_profile(TINY, [ParallelConfig()], [0])


def test_device_name_override_and_normalisation():
    result = measure_profile(TINY, [ParallelConfig()], [1], warmup=0, repeats=1, device_name="my-cpu")
    assert result.device == "my-cpu"
    assert normalize_device_name("NVIDIA H100 80GB HBM3") == "h100-80gb"
    assert normalize_device_name("Tesla V100-SXM2-16GB") == "v100-16gb"
    assert normalize_device_name("NVIDIA A100-SXM4-80GB") == "a100-80gb"
    assert normalize_device_name("NVIDIA H200") == "h200"
