"""MPS slowdown factors derived from the slice model: 1 alone, rising with clients, bounded by them."""
import pytest

from alpa_serve_like.cost_model.mig_slices import NetworkSliceModel, SliceScaling, slice_latency_s
from alpa_serve_like.cost_model.mps import mps_latency_s, mps_slowdown


def test_one_client_is_the_slice_model():
    assert mps_latency_s("resnet50", 3, 8, 1) == slice_latency_s("resnet50", 3, 8)
    assert mps_slowdown("resnet50", 3, 8, 1) == 1.0


def test_by_hand_on_a_sharp_roofline():
    # p = 200: smoothmax ~ max. fixed 1, per unit 1, floor 4 on 1g: batch 2 alone = 1 + max(2, 4) = 5;
    # 3 clients: 1 + max(6, 4) = 7 -> slowdown 1.4. Batch 8: 9 alone, 25 with 3 clients.
    net = NetworkSliceModel("toy", 1.0, 1.0, 4.0)
    sharp = SliceScaling(((1, 1.0), (2, 2.0), (3, 3.0), (7, 7.0)), 200.0)
    assert mps_slowdown(net, 1, 2, 3, scaling=sharp) == pytest.approx(7 / 5, rel=1e-2)
    assert mps_slowdown(net, 1, 8, 3, scaling=sharp) == pytest.approx(25 / 9, rel=1e-2)


def test_small_batches_slow_down_less_and_clients_are_bounded():
    small = [mps_slowdown("resnet50", 7, 1, n) for n in (1, 2, 3, 4)]
    large = [mps_slowdown("resnet50", 7, 64, n) for n in (1, 2, 3, 4)]
    assert small == sorted(small) and large == sorted(large)
    assert small[-1] < large[-1] <= 4.0
    with pytest.raises(ValueError, match="1..4"):
        mps_slowdown("resnet50", 7, 1, 5)
