"""``alpa-serve-like replay``: replay a workload against a running server (open loop) and score it.

Writes one TSV row per request and prints SLO attainment; with ``--placement`` it also simulates
the same placement on the same workload and prints live vs simulated attainment.
"""
from __future__ import annotations

import argparse
import json

from alpa_serve_like.cli.common_args import seed as seed_type

HELP = "replay a workload against a running server (open loop)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.cli import common_args as common

    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server to replay against")
    parser.add_argument("--workload", help="workload file (.npz); without it a synthetic one is made")
    syn = parser.add_argument_group("synthetic workload (without --workload)")
    syn.add_argument("--models", help="model instance names, e.g. bert-tiny-0,bert-tiny-1")
    syn.add_argument("--rate", type=float, default=20.0, help="total requests per second")
    syn.add_argument("--duration", type=float, default=20.0, help="seconds of traffic")
    syn.add_argument("--cv", type=float, default=1.0, help="Gamma inter-arrival CV")
    syn.add_argument("--slo-ms", type=float, default=100.0, metavar="MS", help="SLO of every request")
    syn.add_argument("--seed", type=seed_type, default=0, help="random seed")
    parser.add_argument("--length", type=int, default=None, help="tokens per request (default: the "
                        "workload's sizes, else each model's sequence length)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request client timeout (s)")
    parser.add_argument("--ready-timeout", type=float, default=60.0, metavar="S",
                        help="seconds to wait for the server to list the workload's models (0: do not wait)")
    parser.add_argument("--out", required=True, help="per-request TSV to write: outcome, client latency and the "
                        "server's timing breakdown (queue, stage compute, hops) of each request")
    cmp = parser.add_argument_group("compare with the simulator")
    cmp.add_argument("--placement", help="the placement being served: simulate it on the same workload")
    common.add_db(cmp)
    common.add_device(cmp, default=None, help_text=common.DEVICE_HELP + " of the profiles (default: the "
                      "plan's device, else cpu)")
    common.add_max_batch_size(cmp, default=None, help_text="dynamic batching limit (default: the plan's, else 1)")
    cmp.add_argument("--dispatch-overhead-ms", type=float, default=0.0, help="predicted delay before stage 0")
    cmp.add_argument("--per-stage-overhead-ms", type=float, default=0.0, help="predicted extra time per stage")


def load_workload(args):
    import numpy as np

    if args.workload:
        from alpa_serve_like.trace.workload_io import load_workload as load

        return load(args.workload)
    if not args.models:
        raise ValueError("give --workload FILE or --models NAME,... for a synthetic workload")
    if not args.duration > 0:
        raise ValueError(f"--duration must be > 0 seconds of traffic, got {args.duration:g}")
    from alpa_serve_like.trace.synthetic import make_workload

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    return make_workload(names, args.rate, args.duration, np.random.default_rng(args.seed),
                         slo_s=args.slo_ms / 1e3, process="gamma", cv=args.cv, name="replay")


def run(args: argparse.Namespace) -> int:
    import sys

    from alpa_serve_like.client.replay import ServerNotReady, compare_with_simulator, replay, wait_until_ready

    from alpa_serve_like.cli.errors import report

    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(args.out)
        check_url(args.url)
        workload = load_workload(args)
        # the comparison's inputs are read before any traffic is sent: a bad file fails in a second,
        # not after the whole replay
        compare = simulator_inputs(args) if args.placement else None
    except (ValueError, OSError) as exc:  # bad options and files: one line, status 2, nothing sent
        return report("alpa-serve-like replay", exc)
    if args.ready_timeout > 0:
        try:
            wait_until_ready(args.url, workload.model_names, timeout_s=args.ready_timeout)
        except ServerNotReady as exc:
            print(f"alpa-serve-like replay: {exc}", file=sys.stderr)
            return 2
    result = replay(args.url, workload, length=args.length, timeout_s=args.timeout)
    path = result.write_tsv(args.out)
    print(result.summary())
    print(f"wrote {path}")
    if compare:
        print(json.dumps(compare_with_simulator(result, *compare), indent=1))
    return 0


def check_url(url: str) -> None:
    """Refuse a server URL urllib cannot open (it would fail on the first request, with a traceback)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url {url!r}: expected http://HOST:PORT of a running server, e.g. http://127.0.0.1:8000")


def simulator_inputs(args: argparse.Namespace):
    """(placement, profiles, SimOptions) of ``--placement`` for the live-vs-simulated comparison."""
    from alpa_serve_like.core.plan import Placement
    from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
    from alpa_serve_like.scheduling import SchedulingOptions
    from alpa_serve_like.simulator import SimOptions

    placement = Placement.load(args.placement)
    device = args.device or placement.context.device or "cpu"
    batch = args.max_batch_size or placement.context.max_batch_size or 1
    if not args.device and placement.context.device:
        print(f"using device {device} from the plan")
    profiles = instance_profiles(placement.models, load_database(args.db or ""), device)
    options = SimOptions(scheduling=SchedulingOptions(max_batch_size=batch,
                                                      dispatch_overhead_s=args.dispatch_overhead_ms / 1e3,
                                                      per_stage_overhead_s=args.per_stage_overhead_ms / 1e3))
    return placement, profiles, options
