"""``alpa-serve-like demo``: the small end-to-end demo (local Ray on loopback, CPU, tiny models).

Places four BERT-mini instances on four CPU "devices" twice -- replication (sr-greedy) and the
model-parallel search (mp-search) --, serves each with Ray Serve on the same ~30 s of the Azure LLM
inference trace (../shared/data) and prints live vs simulated SLO attainment side by side; see
``alpa_serve_like.demo.run`` for the steps.
"""
from __future__ import annotations

import argparse

from alpa_serve_like.cli.common_args import seed as seed_type

HELP = "the thesis live: replication vs model-parallel placement on a real trace (local Ray, CPU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.demo.run import DemoConfig

    d = DemoConfig()
    parser.add_argument("--out", default=d.out_dir, help="output folder")
    parser.add_argument("--duration", type=float, default=d.duration_s, help="seconds of trace to replay")
    parser.add_argument("--rate", type=float, default=d.rate, help="mean total requests/s (the trace is compressed to it)")
    parser.add_argument("--num-devices", type=int, default=d.num_devices, help="CPU devices to place on")
    parser.add_argument("--cpu-per-device", type=float, default=d.cpu_per_device, help="logical CPUs per device")
    parser.add_argument("--memory-budget-mib", type=float, default=d.memory_budget_mib, metavar="MIB",
                        help="usable memory per CPU device")
    parser.add_argument("--memory-mib", type=float, dest="memory_budget_mib", help=argparse.SUPPRESS)
    parser.add_argument("--slo-ms", type=float, default=d.slo_ms, help="SLO of every request")
    parser.add_argument("--policies", default=",".join(d.policies),
                        help="placement policies to compare, comma-separated, each served live in turn")
    parser.add_argument("--policy", dest="policies", help=argparse.SUPPRESS)
    parser.add_argument("--models", default=",".join(d.models), metavar="NAME,...",
                        help="four model instances, serving the trace's conv/code x short/long streams")
    parser.add_argument("--trace-dir", default=None,
                        help="folder with AzureLLMInferenceTrace_{conv,code}.csv (default ../shared/data)")
    parser.add_argument("--no-live", action="store_true", help="skip Ray: placement, simulation and plot only")
    parser.add_argument("--no-cluster-scale", action="store_true",
                        help="skip the simulator-only comparison at cluster scale (72 models on 32 V100s)")
    parser.add_argument("--seed", type=seed_type, default=d.seed, help="traffic and placement seed")
    parser.add_argument("--admission-quantile", type=float, default=d.admission_quantile,
                        help="the live server's admission margin, as a quantile of its recent prediction errors: "
                             "the demo scores attainment over all requests, so it admits more than the server's "
                             "default (0.99, which promises admitted requests their SLO under overload)")


def run(args: argparse.Namespace) -> int:
    from alpa_serve_like.demo.run import DemoConfig, run_demo

    config = DemoConfig(out_dir=args.out, duration_s=args.duration, rate=args.rate, num_devices=args.num_devices,
                        cpu_per_device=args.cpu_per_device, memory_budget_mib=args.memory_budget_mib, slo_ms=args.slo_ms,
                        policies=tuple(p.strip() for p in args.policies.split(",") if p.strip()),
                        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
                        trace_dir=args.trace_dir, live=not args.no_live, cluster_scale=not args.no_cluster_scale, seed=args.seed,
                        admission_quantile=args.admission_quantile)
    try:
        _check_options(args)
        report = run_demo(config, log=lambda line: print(line, flush=True))
    except (ValueError, OSError, KeyError) as exc:
        from alpa_serve_like.cli.errors import report

        return report("alpa-serve-like demo", exc)
    return 1 if report.live_error and config.live else 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse what the demo would misread: rates and durations <= 0 (reported as "the trace is too
    short"), and a --trace-dir without the trace (the stand-in would replace it)."""
    if not args.rate > 0:
        raise ValueError(f"--rate must be > 0 requests/s, got {args.rate:g}")
    if not args.duration > 0:
        raise ValueError(f"--duration must be > 0 seconds, got {args.duration:g}")
    if not 0 <= args.admission_quantile < 1:
        raise ValueError(f"--admission-quantile must be in [0, 1) (0: a margin of 2 deviations of the overheads), "
                         f"got {args.admission_quantile:g}")
    if args.trace_dir:
        from alpa_serve_like.demo.traffic import TRACE_FILES, find_trace_dir

        if find_trace_dir(args.trace_dir) is None:
            raise ValueError(f"--trace-dir {args.trace_dir} does not hold {' and '.join(TRACE_FILES)} (nor its "
                             f"azure_llm_inference_2023/ folder); leave --trace-dir out to use ../shared/data or, "
                             f"without it, the labelled synthetic stand-in")
