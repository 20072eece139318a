"""Queue disciplines: hand-computed dispatch orders, the EWMA estimates and Paella's deficit rule."""
import math

import pytest

from alpa_serve_like.scheduling.disciplines import (
    DeficitCredits,
    DisciplineState,
    DispatchView,
    RemainingWork,
    Waiting,
    discipline_names,
    register_discipline,
    resolve_discipline,
)


def _drain(state: DisciplineState, waiting: list[Waiting]) -> list[int]:
    """Dispatch every job once (each is one unit long), returning job ids in dispatch order."""
    waiting, order = list(waiting), []
    while waiting:
        order.append(waiting.pop(state.select(waiting, now_s=0.0)).job)
    return order


def test_registry_lists_builtins_and_refuses_duplicates():
    assert discipline_names() == ["edf", "fcfs", "srpt"]
    with pytest.raises(ValueError, match="already registered"):
        register_discipline("srpt")(lambda w, r, v: ())
    with pytest.raises(ValueError, match="unknown queue discipline 'lifo'.*known: edf, fcfs, srpt"):
        resolve_discipline("lifo")


def test_fcfs_and_edf_orders():
    jobs = [Waiting(0, "a", 2.0, 0, 1, deadline_s=9.0), Waiting(1, "b", 1.0, 0, 1, deadline_s=math.inf),
            Waiting(2, "a", 1.0, 0, 1, deadline_s=5.0), Waiting(3, "b", 3.0, 0, 1, deadline_s=5.0)]
    assert _drain(DisciplineState("fcfs"), jobs) == [1, 2, 0, 3]  # arrival 1.0 tie -> lower id
    assert _drain(DisciplineState("edf"), jobs) == [2, 3, 0, 1]   # deadline 5.0 tie -> earlier arrival


def test_ewma_estimates_first_sets_then_halves_unknown_is_zero():
    work = RemainingWork()
    assert work.remaining_s("m", 0) == 0.0
    work.observe("m", 0, 4.0)
    assert work.estimate_s("m", 0) == 4.0
    work.observe("m", 0, 2.0)
    assert work.estimate_s("m", 0) == 3.0          # (4 + 2) / 2
    work.observe("m", 0, 1.0)
    assert work.estimate_s("m", 0) == 2.0          # (3 + 1) / 2
    work.observe("m", 2, 5.0)                      # unit 1 never observed: counts 0
    assert work.remaining_s("m", 0) == 7.0
    assert work.remaining_s("m", 1) == 5.0
    assert work.remaining_s("m", 3) == 0.0
    work.observe("m", 2, 1.0)                      # a change invalidates the cached suffix sums
    assert work.remaining_s("m", 0) == 5.0


def test_srpt_orders_by_estimated_remaining_work():
    state = DisciplineState("srpt")
    state.observe("long", 0, 10.0)
    state.observe("short", 0, 1.0)
    state.observe("short", 1, 1.0)
    jobs = [Waiting(0, "long", 0.0, 0, 1), Waiting(1, "short", 1.0, 0, 2), Waiting(2, "short", 2.0, 1, 2),
            Waiting(3, "new", 3.0, 0, 4)]
    # remaining: job0 10, job1 2, job2 1, job3 0 (never observed -> 0, so it looks shortest)
    assert _drain(state, jobs) == [3, 2, 1, 0]


def test_deficit_credits_gain_one_over_n_spend_one_and_reset_when_absent():
    c = DeficitCredits()
    c.on_dispatch(["a", "b"], "a")
    assert c.credits == {"a": -0.5, "b": 0.5}
    c.on_dispatch(["a", "b", "c"], "a")
    assert c.credits == pytest.approx({"a": -0.5 + 1 / 3 - 1, "b": 0.5 + 1 / 3, "c": 1 / 3})
    c.on_dispatch(["b"], "b")                      # a and c had no waiting work: their credit is gone
    assert c.credits == {"b": 0.5 + 1 / 3 + 1 - 1}
    with pytest.raises(ValueError, match="'z' was dispatched but had no waiting work"):
        c.on_dispatch(["b"], "z")


def _short_long_queue():
    return [Waiting(0, "A", 0.0, 0, 1), Waiting(1, "A", 1.0, 0, 1), Waiting(2, "A", 2.0, 0, 1),
            Waiting(3, "B", 0.5, 0, 1)]


@pytest.mark.parametrize("threshold, order", [
    # pure SRPT: the long B job waits for every short A job
    (math.inf, [0, 1, 2, 3]),
    (1e6, [0, 1, 2, 3]),
    # U = 1: after a0 credits are A -0.5, B 0.5; after a1 A -1.0, B 1.0 >= U -> B goes third
    (1.0, [0, 1, 3, 2]),
    # U = 0.5: after a0 B has 0.5 >= U -> B goes second
    (0.5, [0, 3, 1, 2]),
    # U = 0: both start at 0 >= U; the tie goes to the smaller name (A); then B has 0.5
    (0.0, [0, 3, 1, 2]),
])
def test_srpt_fairness_threshold_serves_the_owed_model(threshold, order):
    state = DisciplineState("srpt", fairness_threshold=threshold)
    state.observe("A", 0, 1.0)
    state.observe("B", 0, 10.0)
    assert _drain(state, _short_long_queue()) == order


def test_view_is_what_the_discipline_sees():
    state = DisciplineState("srpt", fairness_threshold=2.0)
    state.observe("A", 0, 1.0)
    view = state.view(_short_long_queue(), now_s=4.0)
    assert view == DispatchView(4.0, (1.0, 1.0, 1.0, 0.0), {"A": 0.0, "B": 0.0}, 2.0, None)
    assert state.order(_short_long_queue(), 4.0) == [3, 0, 1, 2]  # B has no estimate yet: 0 remaining
    with pytest.raises(ValueError, match="empty queue"):
        state.select([], 0.0)
    with pytest.raises(ValueError, match="fairness_threshold must be >= 0"):
        DisciplineState("srpt", fairness_threshold=-1)
