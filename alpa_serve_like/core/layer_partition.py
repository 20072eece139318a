"""Split a model's layers into pipeline stages so the slowest stage is as fast as possible.

Used by the analytic cost model (to time each stage) and by the torch model builder (to cut the
real model), so a profile's stage ``s`` always means the same layers in both.
"""
from __future__ import annotations

from typing import Sequence


def balance_layers(layer_costs: Sequence[float], num_stages: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, end)`` layer ranges, one per stage, minimising the largest stage cost.

    Exact dynamic program, O(num_stages * n^2); n is a few hundred layers at most. Ties are broken
    towards earlier cuts so the result is deterministic. Every stage gets at least one layer.
    """
    n = len(layer_costs)
    if num_stages < 1:
        raise ValueError(f"num_stages must be >= 1, got {num_stages}")
    if n < num_stages:
        raise ValueError(f"cannot split {n} layers into {num_stages} non-empty pipeline stages")
    prefix = [0.0]
    for c in layer_costs:
        if c < 0:
            raise ValueError(f"layer costs must be >= 0, got {c}")
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    # best[k][i]: minimal bottleneck splitting the first i layers into k stages.
    best = [[inf] * (n + 1) for _ in range(num_stages + 1)]
    cut = [[0] * (n + 1) for _ in range(num_stages + 1)]
    best[0][0] = 0.0
    for k in range(1, num_stages + 1):
        for i in range(k, n - (num_stages - k) + 1):
            for j in range(k - 1, i):
                value = max(best[k - 1][j], prefix[i] - prefix[j])
                if value < best[k][i] - 1e-12:
                    best[k][i] = value
                    cut[k][i] = j
    bounds, end = [], n
    for k in range(num_stages, 0, -1):
        start = cut[k][end]
        bounds.append((start, end))
        end = start
    return bounds[::-1]
