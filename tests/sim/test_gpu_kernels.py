"""Kernel-level GPU model: hand-computed timelines of Paella's six systems (exact finish times)."""
import numpy as np
import pytest

from alpa_serve_like.core.gpu_sm import get_gpu_sm_spec
from alpa_serve_like.simulator.gpu_kernels import Kernel, capacity, footprint, lognormal_jobs, simulate_gpu

T4 = get_gpu_sm_spec("t4")  # 40 SMs x (16 blocks, 1024 threads, 64K registers, 64 KiB shared)
WHOLE = Kernel(1.0, 640, 64, 32, 0, "whole")   # 16 blocks/SM x 40 SMs: one wave fills every block slot
HALF = Kernel(1.0, 320, 64, 32, 0, "half")
TINY = Kernel(1.0, 1, 32, 32, 0, "tiny")
COPY = Kernel(0.5, 0, name="h2d")


def test_footprint_is_one_wave_limited_by_the_scarcest_sm_resource():
    k = Kernel(1e-3, 1000, 128, 64, 16 * 1024)
    # per SM: min(16 blocks, 1024/128 = 8, 65536/(64*128) = 8, 64 KiB/16 KiB = 4) = 4 -> 160 resident
    assert footprint(k, T4).as_tuple == (160, 160 * 128, 160 * 128 * 64, 160 * 16 * 1024)
    assert footprint(COPY, T4).as_tuple == (0, 0, 0, 0)
    assert capacity(T4).as_tuple == (640, 40960, 40 * 65536, 40 * 64 * 1024)
    with pytest.raises(ValueError, match="does not fit one SM of t4"):
        footprint(Kernel(1.0, 1, 1024, 255, 0, "fat"), T4)


@pytest.mark.parametrize("system, finish", [
    ("cuda-ss", [1, 2, 3]),            # one stream: one kernel at a time
    ("paella-ss", [1, 2, 3]),
    ("cuda-ms", [1, 1, 2]),            # two half-device kernels fit at once, the third waits
    ("paella-ms-jbj", [1, 1, 2]),
    ("paella-ms-kbk", [1, 1, 2]),      # the third is launched, waits for room, starts at 1
    ("paella", [1, 1, 2]),
])
def test_kernels_share_the_device_while_their_blocks_fit(system, finish):
    r = simulate_gpu([0, 0, 0], ["h"] * 3, {"h": [HALF]}, T4, system)
    assert r.finish_s.tolist() == finish


def test_copies_use_no_sm_resources():
    r = simulate_gpu([0, 0], ["w", "c"], {"w": [WHOLE], "c": [COPY]}, T4, "paella-ms-kbk")
    assert r.finish_s.tolist() == [1.0, 0.5]


def _hol_case(system):
    # 33 jobs at t=0; job 32 shares hardware queue 0 with the 3-kernel job 0.
    models = ["long"] + ["short"] * 31 + ["two"]
    kernels = {"long": [TINY] * 3, "short": [TINY], "two": [TINY] * 2}
    return simulate_gpu([0.0] * 33, models, kernels, T4, system).finish_s


def test_cuda_ms_head_of_line_blocking_behind_the_job_in_front():
    assert _hol_case("cuda-ms")[32] == 5.0        # waits for job 0 (done at 3): 3-4, 4-5
    assert _hol_case("paella-ms-jbj")[32] == 3.0  # gets a free queue when jobs 1-31 end at 1
    assert _hol_case("paella-ms-kbk")[32] == 2.0  # dispatched at once: 0-1, 1-2
    assert _hol_case("cuda-ms")[0] == 3.0


def _srpt_case(system):
    # Warm-up: S (1 whole-device kernel) at 0 and L (3 of them) at 1 teach the estimates
    # (unknown = 0). Then three L jobs at 10, 10.2, 10.4 and one S at 10.6 compete.
    models = ["S", "L", "L", "L", "L", "S"]
    arrival = [0.0, 1.0, 10.0, 10.2, 10.4, 10.6]
    return simulate_gpu(arrival, models, {"S": [WHOLE], "L": [WHOLE] * 3}, T4, system).finish_s.tolist()


def test_srpt_lets_the_short_job_pass_fifo_makes_it_wait():
    # kbk (FIFO): at 11 the dispatcher holds job 2 (arrived first) over S; S runs last, 19-20.
    assert _srpt_case("paella-ms-kbk") == [1, 4, 17, 18, 19, 20]
    # paella (SRPT): at 11 S (remaining 1) beats job 2 (remaining 2) into the pending slot; it
    # runs 13-14, after the two kernels launched before it.
    assert _srpt_case("paella") == [1, 4, 18, 19, 20, 14]


def test_outstanding_cap_delays_admission_and_latency_counts_from_arrival():
    r = simulate_gpu([0, 0, 0], ["t"] * 3, {"t": [TINY]}, T4, "paella-ms-kbk", max_outstanding=1)
    assert r.finish_s.tolist() == [1, 2, 3]
    assert r.mean_s() == 2.0 and r.throughput_rps() == 1.0


def test_lognormal_jobs_mean_gap_and_shares():
    arrival, models = lognormal_jobs(np.random.default_rng(0), 100.0, 1.5, {"a": 0.75, "b": 0.25}, 20000)
    assert arrival[0] == 0.0 and np.all(np.diff(arrival) >= 0)
    assert abs(np.diff(arrival).mean() - 0.01) < 0.002
    assert abs(models.count("a") / len(models) - 0.75) < 0.02


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="no kernel sequence for model"):
        simulate_gpu([0], ["x"], {"y": [TINY]}, T4, "paella")
    with pytest.raises(ValueError, match="unknown GPU system 'cuda'"):
        simulate_gpu([0], ["y"], {"y": [TINY]}, T4, "cuda")


def _fairness_case(threshold):
    # Warm-up teaches S = 1 s, L = 2 s; then at t=10 one L job and four S jobs arrive together.
    # Whole-device kernels run one at a time; two more may be launched (pending) behind them.
    models = ["S", "L", "L", "S", "S", "S", "S"]
    arrival = [0.0, 1.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    r = simulate_gpu(arrival, models, {"S": [WHOLE], "L": [WHOLE] * 2}, T4, "paella", threshold)
    return r.finish_s.tolist()[2:]


def test_fairness_threshold_moves_the_long_job_forward():
    # Pure SRPT: the four S jobs run 10-14, L runs 14-16.
    assert _fairness_case(float("inf")) == [16, 11, 12, 13, 14]
    # U = 0.5: after S3 starts, L's credit is 0.5 >= U, so L is launched next (pending); its first
    # kernel runs 11-12, S4 12-13, S5 13-14 (launched before L's second kernel won the SRPT tie at
    # 12 on job id), L's second 14-15, S6 15-16.
    assert _fairness_case(0.5) == [15, 11, 13, 14, 16]
