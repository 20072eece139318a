"""``alpa-serve-like serve``: serve a placement with Ray Serve over HTTP (blocks until Ctrl-C).

The same application as ``serve run alpa_serve_like.serve:app placement=...``; this command also
starts (or joins) Ray and Serve's HTTP proxy with the host and port given (127.0.0.1 by default).
"""
from __future__ import annotations

import argparse
import sys
import time

HELP = "serve a placement with Ray Serve"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--placement", help="placement JSON (from 'alpa-serve-like place'); without it "
                                            "one is computed from --models/--num-devices/--rate")
    parser.add_argument("--models", help="expected load: base models and copies, e.g. bert-tiny:2,gpt-tiny:1")
    parser.add_argument("--num-devices", type=int, help="expected load: devices to place on")
    parser.add_argument("--rate", type=float, help="expected load: total requests per second")
    parser.add_argument("--slo-scale", type=float, help="expected load: SLO = scale x single-device latency")
    parser.add_argument("--policy", help="placement policy for the computed placement (default mp-search)")
    parser.add_argument("--db", default="", help="profiling database (default: ./profiling_result.pkl or shipped)")
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other RuntimeOptions field, e.g. --option default_slo_s=0.5 (repeatable)")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address (default loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--address", default=None, help="Ray address (default: a running local Ray, else a new one)")
    parser.add_argument("--name", default="alpa_serve_like", help="Serve application name")
    parser.add_argument("--no-block", action="store_true", help="return once the app is up (leaves it running)")


def app_arguments(args: argparse.Namespace) -> dict:
    """The ``serve run`` style argument dict of ``alpa_serve_like.serve.build_app``."""
    out = {"max_batch_size": args.max_batch_size, "device": args.device}
    if args.db:
        out["database"] = args.db
    if args.placement:
        out["placement"] = args.placement
    for key, value in (("models", args.models), ("num_devices", args.num_devices), ("rate", args.rate),
                       ("slo_scale", args.slo_scale), ("policy", args.policy)):
        if value is not None:
            out[key] = value
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--option {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    import ray
    from ray import serve

    from alpa_serve_like.serve import build_app

    app = build_app(app_arguments(args))  # fails here, before Ray starts, on bad input
    ray.init(address=args.address, include_dashboard=False)
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(app, name=args.name, route_prefix="/")
    url = f"http://{args.host}:{args.port}"
    print(f"serving on {url}  (POST {url}/v1/models/<name>/infer, GET {url}/v1/models, {url}/v1/stats)")
    if args.no_block:
        return 0
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("shutting down", file=sys.stderr)
        serve.delete(args.name)
    return 0
