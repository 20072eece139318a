"""One long segment scored by two threads, exactly, by speculation.

The score loop's state is its stage clocks, nothing else, and admission bounds every queue by the
SLO, so requests scored from idle clocks soon reach the same state as from the true one (once the
burst in flight drains). The second thread scores the later part of a segment from idle clocks
and keeps its state and counts before every chunk; the calling thread scores the earlier part,
then continues into the later part until its true state equals the second thread's at a chunk
start, from where the second thread's counts are the true ones (its final counts less those
before that chunk). If the states never meet, the calling thread simply scores everything.
Results are identical for any thread count; ``tests/sim/test_scorer_threads.py`` checks both
outcomes of the speculation.
"""
from __future__ import annotations

import os

import numpy as np

from alpa_serve_like.simulator.kernel import jit_disabled_by_env
from alpa_serve_like.simulator.score_kernel import get_score_loop, get_speculation

SPLIT_MIN_REQUESTS = 100_000
"""A segment this long is scored by two threads (below it the loop takes about half a millisecond)."""
SPLIT_MIN_CHUNK = 1024
"""Requests between the speculative thread's state snapshots (at least)."""
SPLIT_FRACTION = 0.48
"""Share of a split segment the calling thread scores before catching up with the second: a bit
under half, as it then catches up."""

_pool = None


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child has the parent's pool object but not its thread


os.register_at_fork(after_in_child=_forget_pool)


def _second_thread():
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="placement-scorer")
    return _pool


def score_segment(args: tuple, i_measured: int, free: np.ndarray, scratch: np.ndarray, served: np.ndarray,
                  threads: int, jit: bool) -> None:
    """Score the requests of ``args`` (the loop's request arrays, tables and options) from state
    ``free``, adding to ``served``: on two threads when ``threads == 2`` and the segment is long."""
    n = len(args[0])
    if threads == 1 or n < SPLIT_MIN_REQUESTS or not jit or jit_disabled_by_env():  # speculation is compiled only
        get_score_loop(jit)(*args, i_measured, free, scratch, served)
    else:
        score_split(args, i_measured, n, free, scratch, served)


def score_split(args: tuple, i_measured: int, n: int, free: np.ndarray, scratch: np.ndarray,
                served: np.ndarray) -> None:
    """Score requests ``0:n`` of ``args`` from state ``free``, adding to ``served``, on two threads."""
    speculate, catch_up = get_speculation()
    mid = int(n * SPLIT_FRACTION)
    chunk = max(SPLIT_MIN_CHUNK, (n - mid) // 512)
    chunks = -(-(n - mid) // chunk)
    snaps = np.empty((chunks, len(free)))
    cums = np.empty((chunks, len(served)), dtype=np.int64)
    free2, served2 = np.full_like(free, -np.inf), np.zeros_like(served)
    future = _second_thread().submit(speculate, *args, i_measured, mid, n, chunk, snaps, cums, free2,
                                     np.empty_like(scratch), served2)
    arrival, model_id, deadline, *rest = args
    get_score_loop()(arrival[:mid], model_id[:mid], deadline[:mid], *rest, i_measured, free, scratch, served)
    future.result()
    k = catch_up(*args, i_measured, mid, n, chunk, snaps, free, scratch, served)
    if k >= 0:
        served += served2 - cums[k]
