"""The Paella (SOSP'23) experiments as data: model mixes, systems, loads and fairness thresholds.

A ``PaellaPoint`` is one kernel-level simulation (figure, system, load or U). Loads are given as
multiples of the mix's *serial capacity*: jobs per second one GPU finishes when it runs one
kernel at a time (1 / the share-weighted mean of each model's summed kernel durations), so every
device and mix sweeps the same range of pressure. Figures: ``mix8`` (p99 latency vs throughput,
eight CNNs), ``extreme2`` (the same for resnet18 + inception_v3) and ``fairness`` (mean latency of
each of the two models as U sweeps, ``paella`` at ``FAIRNESS_LOAD_SCALE``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MIX8 = {"mobilenetv2": 0.257, "densenet121": 0.0706, "googlenet": 0.0546, "inception_v3": 0.0138,
        "resnet18": 0.272, "resnet34": 0.168, "resnet50": 0.0745, "squeezenet1.1": 0.0895}
"""Paella's 8-model mix (share of jobs)."""
EXTREME2 = {"resnet18": 0.952, "inception_v3": 0.048}
MIXES = {"mix8": MIX8, "extreme2": EXTREME2, "fairness": EXTREME2}
MAX_OUTSTANDING = {"mix8": 141, "extreme2": 125, "fairness": 125}
"""Paella's caps on outstanding jobs."""
SYSTEM_ORDER = ("cuda-ss", "cuda-ms", "paella-ss", "paella-ms-jbj", "paella-ms-kbk", "paella")
FIGURE_FAIRNESS_THRESHOLD = 1e6
"""U of ``paella`` in the mix8 / extreme2 figures: pure SRPT, as the fairness figure's right end."""
FAIRNESS_LOAD_SCALE = 3.0
"""Offered load of the fairness figure: 3x serial capacity, where paella is near saturation on T4."""
FAIRNESS_MODELS = ("resnet18", "inception_v3")

Figure = Literal["mix8", "extreme2", "fairness"]


@dataclass(frozen=True)
class PaellaPoint:
    figure: Figure
    system: str
    load_scale: float
    """Offered load / the mix's serial capacity."""
    fairness_threshold: float
    device: str = "t4"
    num_jobs: int = 3000
    sigma: float = 1.5
    """Lognormal sigma of the inter-arrival times (Paella used 1.5 and 2)."""
    seed: int = 0

    @property
    def key(self) -> str:
        return (f"{self.figure}|{self.system}|{self.load_scale:g}|{self.fairness_threshold:g}|{self.device}|"
                f"{self.num_jobs}|{self.sigma:g}|{self.seed}")


def paella_points(quick: bool = False, device: str = "t4", sigma: float = 1.5, seed: int = 0) -> list[PaellaPoint]:
    """Every point of the three figures (quick: 200 jobs, two loads, two values of U)."""
    jobs = 200 if quick else 3000
    loads = (1.0, 3.0) if quick else (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    thresholds = (1e6, 1.0) if quick else (1e6, 1e5, 100.0, 10.0, 1.0, 0.1, 0.01)
    common = dict(device=device, num_jobs=jobs, sigma=sigma, seed=seed)
    pts = [PaellaPoint(fig, s, load, FIGURE_FAIRNESS_THRESHOLD if s == "paella" else float("inf"), **common)
           for fig in ("mix8", "extreme2") for load in loads for s in SYSTEM_ORDER]
    pts += [PaellaPoint("fairness", "paella", FAIRNESS_LOAD_SCALE, u, **common) for u in thresholds]
    return pts
