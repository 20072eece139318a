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
    from alpa_serve_like.cli import common_args as common

    parser.add_argument("--placement", help="placement JSON (from 'alpa-serve-like place'); without it "
                                            "one is computed from --models/--num-devices/--rate")
    load = parser.add_argument_group("expected load (without --placement)")
    common.add_models(load, required=False)
    common.add_num_devices(load, required=False, help_text="devices to place on")
    load.add_argument("--rate", type=float, help="total requests per second")
    common.add_slo_scale(load, default=None)
    load.add_argument("--policy", help="placement policy for the computed placement (default mp-search)")
    common.add_db(parser)
    common.add_max_batch_size(parser, default=None, help_text="dynamic batching limit (default: the plan's, else 1)")
    common.add_device(parser, default=None, help_text="device type whose profiles predict latencies "
                      "(default: the plan's device, else cpu); another type than the plan's re-checks memory")
    parser.add_argument("--torch-device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where stage actors run (auto: gpu when Ray has GPUs)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="[MODEL=]PATH",
                        help="load weights from a local .safetensors or torch state-dict file instead of random "
                             "ones: PATH for every model, MODEL=PATH for one instance (bert-mini-0) or base "
                             "model (bert-mini); repeatable (default: random weights)")
    parser.add_argument("--checkpoint-naming", choices=("auto", "ours", "hf-bert", "hf-gpt2"), default="auto",
                        help="tensor names in the checkpoint files (default: auto, guessed from the names)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other RuntimeOptions field, e.g. --option default_slo_s=0.5 (repeatable)")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address (loopback only unless changed)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port")
    parser.add_argument("--request-timeout-s", type=float, default=60.0,
                        help="Serve's HTTP request_timeout_s: the proxy answers a request still open after "
                             "this long itself (default 60; above batch_timeout_s so a stuck batch is "
                             "reported by the controller first)")
    parser.add_argument("--keep-alive-timeout-s", type=int, default=5,
                        help="Serve's HTTP keep_alive_timeout_s: idle client connections close after this "
                             "long (default 5; Serve's own default is 90)")
    parser.add_argument("--address", default=None, help="Ray address (default: a running local Ray, else a new one)")
    parser.add_argument("--name", default="alpa_serve_like", help="Serve application name")
    parser.add_argument("--no-block", action="store_true", help="return once the app is up (leaves it running)")


def app_arguments(args: argparse.Namespace) -> dict:
    """The ``serve run`` style argument dict of ``alpa_serve_like.serve.build_app``."""
    out = {"device": args.torch_device}
    if args.max_batch_size is not None:
        out["max_batch_size"] = args.max_batch_size
    if args.device:
        out["profile_device"] = args.device
    if args.db:
        out["database"] = args.db
    if args.placement:
        out["placement"] = args.placement
    for key, value in (("models", args.models), ("num_devices", args.num_devices), ("rate", args.rate),
                       ("slo_scale", args.slo_scale), ("policy", args.policy)):
        if value is not None:
            out[key] = value
    if args.checkpoint:
        out["checkpoint"] = ",".join(args.checkpoint)
        out["checkpoint_naming"] = args.checkpoint_naming
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--option {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def http_options(args: argparse.Namespace) -> dict:
    """Serve's ``http_options`` from the command line (the keys of a config file's ``http_options``)."""
    if not args.request_timeout_s > 0 or args.keep_alive_timeout_s < 1:
        raise SystemExit(f"--request-timeout-s must be > 0 and --keep-alive-timeout-s >= 1, got "
                         f"{args.request_timeout_s} and {args.keep_alive_timeout_s}")
    if not 1 <= args.port <= 65535:
        raise SystemExit(f"--port must be a TCP port in 1..65535, got {args.port}")
    return {"host": args.host, "port": args.port, "request_timeout_s": args.request_timeout_s,
            "keep_alive_timeout_s": args.keep_alive_timeout_s}


def run(args: argparse.Namespace) -> int:
    http = http_options(args)  # refused before Ray starts, not after
    if args.placement:  # a bad or empty plan file is refused in a blink, before Ray is even imported
        from alpa_serve_like.core.plan import Placement

        Placement.load(args.placement)
    import ray
    from ray import serve

    from alpa_serve_like.runtime.local_ray import allow_slow_serve_startup, serve_controller_options, serve_is_running
    from alpa_serve_like.serve import build_app

    app = build_app(app_arguments(args))  # fails here, before Ray starts, on bad input
    allow_slow_serve_startup()  # reaches Serve only through a Ray started here
    ray.init(address=args.address, include_dashboard=False)
    if serve_is_running():
        print("warning: Serve already runs in this Ray cluster, so its HTTP options (--host, --port, "
              "timeouts) and the proxy's start-up patience set here are not applied; to change them, "
              "`serve shutdown` first (or start Ray with RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S=60 "
              "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S=60 exported)", file=sys.stderr)
    # On a Ray that is already running (not started here), environment variables cannot reach
    # Serve's controller; its controller_options can, as long as Serve itself is not running yet.
    serve.start(http_options=http, controller_options=serve_controller_options())
    serve.run(app, name=args.name, route_prefix="/")
    url = f"http://{args.host}:{args.port}"
    print(f"serving on {url}  (POST {url}/v1/models/<name>/infer, GET {url}/v1/models, {url}/v1/stats)")
    print(f"  KServe v2: POST {url}/v2/models/<name>/infer, GET {url}/v2/health/ready; schemas: {url}/openapi.json")
    scrape = [f"http://{n['NodeManagerAddress']}:{n['MetricsExportPort']}/metrics" for n in ray.nodes() if n.get("Alive")]
    print(f"  Prometheus metrics (ray_alpa_serve_like_*): {', '.join(scrape)}")
    if args.no_block:
        return 0
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("shutting down", file=sys.stderr)
        serve.delete(args.name)
    return 0
