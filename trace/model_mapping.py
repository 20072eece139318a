"""Map a workload's own model names (a trace's services, e.g. the LLM trace's ``conv`` and ``code``)
onto the model instances to place, so any real trace can feed ``place``, ``simulate`` and
``compare-policies``.

- ``round-robin``: the ``j``-th trace name (in the workload's order) goes to model ``j % M``.
- ``popularity``: trace names ranked busiest first; rank ``r`` goes to model ``r % M``, so the
  first model listed gets the busiest stream (the trace's skew lands on the models' order).
- explicit ``SRC=MODEL,...``: each trace name given goes to the model named; a trace name with
  requests that is not listed is an error naming it.

Several trace names may land on one model (their requests merge); a model no trace name lands on
gets no traffic. Arrivals, sizes and SLOs of the requests are kept.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from alpa_serve_like.core.workload import Workload

MAP_KINDS = ("round-robin", "popularity")
MAP_HELP = ("map the workload's model names (e.g. the LLM trace's conv, code) onto --models: round-robin, "
            "popularity (busiest stream -> first model), or explicit SRC=MODEL,...")


def parse_map(text: str) -> str | dict[str, str]:
    """"round-robin" / "popularity" as they are; "conv=a,code=b" -> {"conv": "a", "code": "b"}."""
    if text in MAP_KINDS:
        return text
    if "=" not in text:
        raise ValueError(f"--map {text!r}: use one of {', '.join(MAP_KINDS)} or SRC=MODEL,... (e.g. conv=bert-1.3b-0)")
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        src, _, dst = (x.strip() for x in item.partition("="))
        if not src or not dst:
            raise ValueError(f"--map {text!r}: {item!r} is not SRC=MODEL (e.g. conv=bert-1.3b-0)")
        if src in out:
            raise ValueError(f"--map {text!r}: {src!r} is mapped twice ({out[src]}, {dst}); give each SRC once")
        out[src] = dst
    return out


def map_models(workload: Workload, models: Sequence[str], how: str | dict[str, str]) -> Workload:
    """``workload`` with its requests re-labelled onto ``models`` (see the module docstring)."""
    models = list(models)
    if not models:
        raise ValueError("map_models: no target models given")
    names = list(workload.model_names)
    counts = np.bincount(workload.model_id, minlength=len(names))
    if isinstance(how, dict):
        unknown_dst = sorted({d for d in how.values() if d not in models})
        if unknown_dst:
            raise ValueError(f"--map names model(s) {', '.join(unknown_dst)} not in --models ({', '.join(models)})")
        unmapped = [n for n, c in zip(names, counts) if c and n not in how]
        if unmapped:
            raise ValueError(f"--map does not say where the workload's {', '.join(unmapped)} go "
                             f"(the workload has: {', '.join(names)}); add SRC=MODEL for each")
        target = {n: models.index(how[n]) for n in names if n in how}
    elif how == "round-robin":
        target = {n: j % len(models) for j, n in enumerate(names)}
    elif how == "popularity":
        ranked = np.argsort(-counts, kind="stable")
        target = {names[j]: r % len(models) for r, j in enumerate(ranked)}
    else:
        raise ValueError(f"unknown model mapping {how!r} (known: {', '.join(MAP_KINDS)}, or SRC=MODEL,...)")
    lookup = np.array([target.get(n, -1) for n in names], dtype=np.int32)
    model_id = lookup[workload.model_id]
    keep = model_id >= 0  # trace names without requests may be left out of an explicit map
    meta = {**workload.meta, "model_map": {n: models[t] for n, t in target.items()},
            "mapped_from": names}

    def cut(a):
        return None if a is None else a[keep]

    return Workload(workload.arrival_s[keep], model_id[keep], workload.slo_s[keep], tuple(models),
                    cut(workload.size), meta, cut(workload.output_size))
