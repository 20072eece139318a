"""Kernel-level model of one GPU for Paella's experiments: jobs of kernels, six scheduling systems."""
from alpa_serve_like.simulator.gpu_kernels.arrivals import lognormal_jobs
from alpa_serve_like.simulator.gpu_kernels.engine import simulate_gpu
from alpa_serve_like.simulator.gpu_kernels.kernel import Footprint, Kernel, capacity, footprint
from alpa_serve_like.simulator.gpu_kernels.result import GpuRunResult
from alpa_serve_like.simulator.gpu_kernels.systems import SYSTEMS, GpuSystem, SystemSpec, get_system

__all__ = ["Footprint", "GpuRunResult", "GpuSystem", "Kernel", "SYSTEMS", "SystemSpec", "capacity", "footprint",
           "get_system", "lognormal_jobs", "simulate_gpu"]
