"""Latency of a network on a MIG slice, calibrated on the MIGPerf A100-80GB measurements.

Form (per network ``n``, per slice of ``k`` compute slices, for ``w`` units of work)::

    latency_s = t0_n + smoothmax(per_unit_n * w / speed_k, floor_n)
    smoothmax(x, y) = (x**p + y**p) ** (1 / p)

``w`` is the batch size for the vision networks and batch x sequence / 64 for BERT. ``speed_k`` is
the slice's throughput relative to a 1g slice (shared by all networks); ``floor_n`` is the time a
batch cannot go below however much of the GPU it gets (too little parallelism to fill it), which is
why small batches barely care about the slice size and large ones scale with it. 4g was not
measured; its speed is interpolated linearly in compute slices between 3g and 7g.

Calibration: ``fit_slice_model`` (log-space least squares, scipy's Nelder-Mead) on the
batch-sweep rows of ``../shared/data/reference/migperf_a100_80gb_inference.csv`` (MIGPerf, Zhang et
al., arXiv 2301.00407). The BERT sequence-sweep rows at 256 and 512 tokens are left out: their
latency barely grows from 256 to 512 tokens and their std is 25-40 % of the mean, which no
work-proportional model (nor the other rows) explains. Refit with
``python -m alpa_serve_like.cost_model.mig_slices CSV``; it prints the constants and the error table.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import minimize

MEASURED_SLICES = (1, 2, 3, 7)


@dataclass(frozen=True)
class SliceScaling:
    """How much faster bigger slices are, relative to 1g, and how sharp the floor's corner is."""

    speed_by_slices: tuple[tuple[int, float], ...]
    """(compute slices, throughput relative to a 1g slice) for the measured sizes."""
    smoothness: float
    """Exponent ``p`` of the smooth maximum (large: a sharp roofline corner)."""

    def speed(self, compute_slices: int) -> float:
        table = dict(self.speed_by_slices)
        if compute_slices in table:
            return table[compute_slices]
        sizes = sorted(table)
        if not sizes[0] <= compute_slices <= sizes[-1]:
            raise ValueError(f"slice size {compute_slices}g is outside the calibrated sizes {sizes}")
        lo = max(s for s in sizes if s < compute_slices)
        hi = min(s for s in sizes if s > compute_slices)
        return table[lo] + (table[hi] - table[lo]) * (compute_slices - lo) / (hi - lo)


@dataclass(frozen=True)
class NetworkSliceModel:
    """One network's constants: fixed overhead, time per unit of work on 1g, and latency floor."""

    name: str
    fixed_s: float
    per_unit_s: float
    floor_s: float
    tokens_per_unit: int = 0
    """For sequence models, the sequence length one unit of work stands for (0: vision, w = batch)."""

    def work_units(self, batch_size: int, seq_length: int | None = None) -> float:
        if self.tokens_per_unit == 0:
            return float(batch_size)
        if seq_length is None:
            raise ValueError(f"network {self.name!r} needs a seq_length")
        return batch_size * seq_length / self.tokens_per_unit


# Fitted with the module's __main__ on the MIGPerf CSV (116 rows used, max |error| 19.4 %, on
# resnet50 1g batch 2; the per-row check is tests/unit/test_mig_slices.py).
CALIBRATED_SCALING = SliceScaling(
    speed_by_slices=((1, 1.0), (2, 2.0587), (3, 3.2561), (7, 7.6090)),
    smoothness=5.6215,
)
CALIBRATED_NETWORKS: dict[str, NetworkSliceModel] = {
    m.name: m
    for m in (
        NetworkSliceModel("bert-base", fixed_s=2.1382e-3, per_unit_s=5.6119e-3, floor_s=4.3720e-3, tokens_per_unit=64),
        NetworkSliceModel("resnet50", fixed_s=4.2560e-3, per_unit_s=2.3547e-3, floor_s=1.1110e-3),
        NetworkSliceModel("vision_transformer", fixed_s=2.7955e-3, per_unit_s=17.7689e-3, floor_s=2.2108e-3),
    )
}


def slice_latency_s(network: str | NetworkSliceModel, compute_slices: int, batch_size: int,
                    seq_length: int | None = None, scaling: SliceScaling = CALIBRATED_SCALING) -> float:
    """Predicted latency of one batch of ``network`` on a slice with ``compute_slices`` compute slices."""
    net = network if isinstance(network, NetworkSliceModel) else network_model(network)
    p = scaling.smoothness
    compute = net.per_unit_s * net.work_units(batch_size, seq_length) / scaling.speed(compute_slices)
    return net.fixed_s + (compute**p + net.floor_s**p) ** (1.0 / p)


def network_model(name: str) -> NetworkSliceModel:
    try:
        return CALIBRATED_NETWORKS[name]
    except KeyError:
        raise KeyError(f"no MIG slice model for network {name!r} (calibrated: "
                       f"{', '.join(sorted(CALIBRATED_NETWORKS))}); fit one with fit_slice_model") from None


# ---- reference data and calibration ------------------------------------------------------------
@dataclass(frozen=True)
class MigMeasurement:
    """One row of the MIGPerf table."""

    network: str
    compute_slices: int
    profile: str
    batch_size: int
    seq_length: int | None
    latency_s: float


def read_migperf_csv(path: str | os.PathLike) -> list[MigMeasurement]:
    """Rows of ``migperf_a100_80gb_inference.csv`` (columns as in the shared data README)."""
    out = []
    with open(path, newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                profile = row["mig_profile"]
                out.append(MigMeasurement(
                    network=row["model"], compute_slices=int(profile.split("g.")[0]), profile=profile,
                    batch_size=int(row["batch_size"]),
                    seq_length=int(row["seq_length"]) if row["seq_length"] else None,
                    latency_s=float(row["latency_ms"]) / 1e3,
                ))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path} line {line}: cannot read a MIG measurement ({exc})") from None
    return out


def calibration_rows(rows: Sequence[MigMeasurement]) -> list[MigMeasurement]:
    """The rows the model is fitted and tested on (all but BERT at 256/512 tokens; see module doc)."""
    return [r for r in rows if r.seq_length is None or r.seq_length <= 128]


def relative_errors(rows: Sequence[MigMeasurement], scaling: SliceScaling = CALIBRATED_SCALING,
                    networks: dict[str, NetworkSliceModel] = CALIBRATED_NETWORKS) -> np.ndarray:
    """predicted / measured - 1 for each row."""
    return np.array([
        slice_latency_s(networks[r.network], r.compute_slices, r.batch_size, r.seq_length, scaling) / r.latency_s - 1.0
        for r in rows
    ])


def fit_slice_model(rows: Sequence[MigMeasurement], restarts: int = 4, iterations: int = 20000
                    ) -> tuple[SliceScaling, dict[str, NetworkSliceModel]]:
    """Fit the shared slice speeds and each network's constants (log-space least squares)."""
    names = sorted({r.network for r in rows})
    seq_nets = {r.network for r in rows if r.seq_length is not None}
    extra = [s for s in MEASURED_SLICES if s != 1]
    if {r.compute_slices for r in rows} - set(MEASURED_SLICES):
        raise ValueError(f"fit_slice_model: slice sizes must be among {MEASURED_SLICES}")
    net_idx = np.array([names.index(r.network) for r in rows])
    size_idx = np.array([MEASURED_SLICES.index(r.compute_slices) for r in rows])
    work = np.array([r.batch_size * (r.seq_length / 64 if r.seq_length else 1.0) for r in rows])
    measured = np.array([r.latency_s for r in rows])
    n = len(names)

    def unpack(x):
        speed = np.concatenate([[1.0], np.exp(x[: len(extra)])])
        p = np.exp(x[len(extra)])
        rest = np.exp(x[len(extra) + 1:]).reshape(3, n)
        return speed, p, rest

    def loss(x):
        speed, p, (t0, per_unit, floor) = unpack(x)
        pred = t0[net_idx] + ((per_unit[net_idx] * work / speed[size_idx]) ** p + floor[net_idx] ** p) ** (1 / p)
        return float(np.mean(np.log(pred / measured) ** 2))

    x = np.concatenate([np.log(extra, dtype=float), [math.log(4.0)], np.log(np.full(3 * n, 3e-3))])
    for _ in range(restarts):  # restarts re-grow the simplex, which a single long run lets collapse
        x = minimize(loss, x, method="Nelder-Mead", options={"maxiter": iterations, "maxfev": iterations,
                                                              "xatol": 1e-8, "fatol": 1e-12}).x
    speed, p, (t0, per_unit, floor) = unpack(x)
    scaling = SliceScaling(tuple((s, float(v)) for s, v in zip(MEASURED_SLICES, speed)), float(p))
    nets = {name: NetworkSliceModel(name, float(t0[i]), float(per_unit[i]), float(floor[i]),
                                    64 if name in seq_nets else 0) for i, name in enumerate(names)}
    return scaling, nets


def error_table(rows: Sequence[MigMeasurement], scaling: SliceScaling = CALIBRATED_SCALING,
                networks: dict[str, NetworkSliceModel] = CALIBRATED_NETWORKS) -> str:
    """Text table: per network and profile, the mean and max |relative error| over its rows."""
    err = relative_errors(rows, scaling, networks)
    lines = ["network             profile   rows  mean|err|  max|err|"]
    keys = sorted({(r.network, r.compute_slices, r.profile) for r in rows})
    for net, _, profile in keys:
        e = np.abs([err[i] for i, r in enumerate(rows) if (r.network, r.profile) == (net, profile)])
        lines.append(f"{net:<19} {profile:<9} {len(e):>4}  {e.mean():>8.1%}  {e.max():>8.1%}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m alpa_serve_like.cost_model.mig_slices migperf_a100_80gb_inference.csv")
    all_rows = read_migperf_csv(sys.argv[1])
    used = calibration_rows(all_rows)
    fitted_scaling, fitted_nets = fit_slice_model(used)
    print(fitted_scaling)
    for model in fitted_nets.values():
        print(model)
    print(error_table(used, fitted_scaling, fitted_nets))
    print("rows left out (BERT at 256/512 tokens):")
    print(error_table([r for r in all_rows if r not in used], fitted_scaling, fitted_nets))
