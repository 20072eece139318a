"""MIG geometries derived from the placement rules: every valid A100 geometry, no invalid one."""
import pytest

from alpa_serve_like.core import hardware, mig

# Maximal A100 geometries, worked out by hand from the rule table in core/mig.py
# (1g at 0..6, 2g at 0/2/4, 3g at 0/4 taking 4 memory slices, 4g at 0, 7g at 0).
MAXIMAL_A100 = {
    (7,), (4, 3), (4, 2, 1), (4, 1, 1, 1), (3, 3), (3, 2, 2), (3, 2, 1, 1), (3, 1, 1, 1, 1),
    (2, 2, 2, 1), (2, 2, 1, 1, 1), (2, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1, 1),
}


def test_maximal_geometries_are_exactly_the_hand_derived_list():
    assert set(mig.valid_geometries(maximal_only=True)) == MAXIMAL_A100


def test_every_sub_multiset_of_a_maximal_geometry_is_valid_and_nothing_else():
    subsets = set()
    for geo in MAXIMAL_A100:
        for mask in range(1, 1 << len(geo)):
            subsets.add(tuple(sorted((geo[i] for i in range(len(geo)) if mask >> i & 1), reverse=True)))
    assert set(mig.valid_geometries()) == subsets


@pytest.mark.parametrize("sizes", [(4, 4), (7, 1), (3, 3, 1), (2, 2, 2, 2), (4, 2, 2), (1,) * 8, (3, 2, 2, 1), (5,)])
def test_invalid_geometries_are_refused(sizes):
    assert not mig.geometry_fits(sizes)
    assert sizes not in mig.valid_geometries()


def test_placement_rules_are_enforced_per_instance():
    assert mig.placement_is_valid(((3, 4), (2, 0), (2, 2)))  # 3g at 4 leaves room for two 2g
    assert not mig.placement_is_valid(((3, 0), (2, 4), (2, 6)))  # 2g may not start at 6
    assert not mig.placement_is_valid(((1, 7),))  # 1g may not use the 8th memory slice
    assert not mig.placement_is_valid(((4, 0), (1, 2)))  # overlap
    placed = mig.place_geometry((3, 2, 2))
    assert placed is not None and mig.placement_is_valid(placed)


def test_slice_device_scales_the_whole_gpu():
    whole = hardware.get_device("a100-80gb")
    one = hardware.get_device("a100-80gb/1g.10gb")
    three = hardware.get_device("A100-80GB/3g.40gb")
    assert one.peak_fp16_flops == pytest.approx(whole.peak_fp16_flops / 7)
    assert three.mem_bandwidth_bytes_per_s == pytest.approx(whole.mem_bandwidth_bytes_per_s / 2)
    assert three.memory_bytes == 40 * 10**9 and three.name == "a100-80gb/3g.40gb"
    assert [p.name for p in mig.profiles("h200-141gb")] == ["1g.18gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]


def test_bad_names_say_what_is_known():
    with pytest.raises(KeyError, match="known: 1g.10gb"):
        hardware.get_device("a100-80gb/3g.20gb")
    with pytest.raises(KeyError, match="no MIG profiles"):
        mig.profiles("v100-16gb")


def test_geometries_of_some_sizes_are_maximal_among_those_sizes():
    got = set(mig.geometries_of_sizes((1, 2, 3, 7)))
    # Dropping 4g leaves nothing new maximal: what remains of a 4g geometry can take a 3g or more 1g.
    assert got == {g for g in MAXIMAL_A100 if 4 not in g} and len(got) == 9
    assert set(mig.geometries_of_sizes((3,))) == {(3, 3)}
