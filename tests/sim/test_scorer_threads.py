"""PlacementScorer with two threads (speculative split of a segment) counts exactly as with one."""
import numpy as np

from alpa_serve_like.simulator import PlacementScorer, score_split
from sim_cases import random_case


def test_two_threads_count_exactly_as_one(monkeypatch):
    monkeypatch.setattr(score_split, "SPLIT_MIN_REQUESTS", 0)  # split even the tiny random cases
    monkeypatch.setattr(score_split, "SPLIT_MIN_CHUNK", 3)
    rng = np.random.default_rng(99)
    split = met = 0
    speculation = score_split.get_speculation

    def spy():
        speculate, catch_up = speculation()

        def counted(*args):
            nonlocal met, split
            k = catch_up(*args)
            split += 1
            met += k >= 0
            return k

        return speculate, counted

    monkeypatch.setattr(score_split, "get_speculation", spy)
    for case in range(120):
        placement, workload, profiles, options = random_case(rng)
        one = PlacementScorer(workload, profiles, options, threads=1).score(placement)
        two = PlacementScorer(workload, profiles, options, threads=2).score(placement)
        np.testing.assert_array_equal(one.per_model_served, two.per_model_served, err_msg=f"case {case}")
    # Both outcomes of the speculation must occur: states that meet, and ones that never do.
    assert split >= 10 and 3 <= met < split, (split, met)
