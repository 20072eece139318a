"""The pool-size-aware load bound of the queueing-aware optimizer, on hand-computed cases."""
from __future__ import annotations

import math

import pytest

from alpa_serve_like.compound.queueing import (
    concave_pieces, count_breakpoints, erlang_c, usable_load, wait_tail,
)


def test_erlang_c_matches_the_textbook_values():
    assert erlang_c(1, 0.3) == pytest.approx(0.3)  # M/M/1: P(wait) = rho
    # M/M/2 at load 1: Erlang B = (1/2) / (1 + 1 + 1/2) = 0.2, C = 0.2 / (1 - 0.5 + 0.5 * 0.2) = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.0) == 1.0 and erlang_c(3, 0.0) == 0.0


def test_wait_tail_scales_the_exponent_by_the_burst_factor():
    # M/M/2 at load 1, slack one service time, burst 0.5: (1/3) * exp(-(2 - 1) * 1 / 0.5).
    assert wait_tail(2, 1.0, 1.0, 0.5) == pytest.approx(math.exp(-2.0) / 3)


def test_usable_load_of_one_server_without_slack_is_the_tail_probability():
    assert usable_load(1, 0.0, 0.01, 0.5) == pytest.approx(0.01, rel=1e-6)


def test_per_server_usable_load_grows_with_the_pool():
    per_server = [usable_load(c, 1.0, 0.001, 0.5) / c for c in (1, 2, 4, 8, 16, 64)]
    assert all(a < b for a, b in zip(per_server, per_server[1:]))
    assert per_server[-1] < 1.0


def test_concave_pieces_are_the_upper_hull():
    # Already concave: one line per segment.
    lines = concave_pieces([0, 1, 2, 3], [0.0, 1.0, 1.5, 1.6])
    assert [c for line in lines for c in line] == pytest.approx([0.0, 1.0, 0.5, 0.5, 1.3, 0.1])
    # (1, 0.1) lies under the chord from (0, 0) to (2, 1): the hull skips it.
    assert concave_pieces([0, 1, 2], [0.0, 0.1, 1.0]) == [(0.0, 0.5)]


def test_count_breakpoints():
    assert count_breakpoints(3) == [0, 1, 2, 3]
    assert count_breakpoints(20) == list(range(17)) + [20]
    assert count_breakpoints(30) == list(range(17)) + [20, 25, 30]
