"""Which trace functions stand for which models.

Functions are ranked by their requests in the chosen window, busiest first (ties by function
index); the top ``top_n`` (or every function with a request) are used and assigned to models:

- "striped": function of rank ``j`` goes to model ``j % num_models``; models get similar load.
- "contiguous": ranks are cut into ``num_models`` consecutive blocks of (nearly) equal size; model 0
  gets the busiest block, so the load is skewed like the trace's own popularity distribution.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

Mapping = Literal["striped", "contiguous"]
MAPPINGS = ("striped", "contiguous")


def map_functions(function_totals: np.ndarray, num_models: int, how: Mapping = "striped",
                  top_n: int | None = None) -> np.ndarray:
    """Model index of every function (int32), -1 for functions left out."""
    totals = np.asarray(function_totals, dtype=np.float64)
    if num_models < 1:
        raise ValueError(f"num_models must be >= 1, got {num_models}")
    if how not in MAPPINGS:
        raise ValueError(f"unknown function mapping {how!r} (known: {', '.join(MAPPINGS)})")
    ranked = np.argsort(-totals, kind="stable")
    ranked = ranked[totals[ranked] > 0]
    if top_n is not None:
        if top_n < num_models:
            raise ValueError(f"top_n ({top_n}) must be >= the number of models ({num_models})")
        ranked = ranked[:top_n]
    if len(ranked) < num_models:
        raise ValueError(f"the window has only {len(ranked)} functions with requests, fewer than the "
                         f"{num_models} models; choose a longer window or fewer models")
    out = np.full(len(totals), -1, dtype=np.int32)
    if how == "striped":
        out[ranked] = np.arange(len(ranked)) % num_models
    else:
        for model, block in enumerate(np.array_split(ranked, num_models)):
            out[block] = model
    return out
