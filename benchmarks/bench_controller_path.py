"""CPU per request of our own Python on the fused controller's hot path, without a Ray cluster or Serve.

Issue 10 wants ``alpa-fused`` within 1 ms (p50) of a plain Serve deployment; this measures the part
of that gap that is ours: ``POST /v1/models/{name}/infer`` through

* ``served_app``: ``serving_controller.api`` itself through its ASGI interface, response sent
  included, as Serve's replica calls it (every route of the app, the routes bound to the class by
  ``serve.ingress``), the replica's instance a stand-in over the controller below;
* ``asgi``: a FastAPI app with only that route (path, response model, OpenAPI extras), through
  its ASGI interface;
* ``handler``: ``http_common.infer_response`` called directly with a starlette ``Request`` built
  from an ASGI scope (arrival stamp, body read, parse, serve, ``JSONResponse``);
* ``controller``: ``ControllerCore.infer`` alone (admission, dispatch, completion),

on a ``ControllerCore`` over the real profiling database (one one-stage group, the default
``RuntimeOptions``) whose group backend answers every submission at once (the stage hop, which is
the lead's, costs nothing here). Requests are sequential, one in flight, as in
``bench_runtime_overhead.py``'s latency rounds. Each figure is CPU time of this thread
(``time.thread_time``) per request, median of ``--rounds`` rounds; the pieces come from a second
pass through ``served_app`` in which the steps named in ``PIECES`` are wrapped by timers (the
timers' own cost, measured, is subtracted; nested pieces are inclusive: ``completion`` contains
``metrics``).

``--metrics ray`` uses the production ``ServeMetrics`` (Ray's metric objects, no cluster: recorded
outside a replica, so without Serve's replica tags); ``--metrics null`` drops them.

Benchmark: not part of any test run; timing, so run it under the shared lock:

    flock /tmp/ray.lock .venv/bin/python benchmarks/bench_controller_path.py
"""
import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict

from bench_report import emit_report  # noqa: E402 (benchmarks/)

PIECES = {
    # label: (owner kind, attribute); "module" owners are looked up where the caller finds them
    "arrival": ("http_common", "arrival_time_s"),
    "read_body": ("http_common", "read_limited"),
    "parse": ("http_common", "parse_infer_body"),
    "response": ("http_common", "result_response"),
    "controller": ("core", "infer"),
    "controller.route_and_admit": ("scheduler", "route_and_admit"),
    "controller.dispatch": ("core", "_dispatch_next"),
    "controller.dispatch.batch_tokens": ("dispatch", "batch_tokens"),
    "controller.completion": ("core", "_complete"),
    "controller.completion.overheads": ("core", "_apply_overheads"),
    "controller.completion.stats": ("stats", "record"),
    "controller.completion.metrics": ("metrics", "on_request"),
    "controller.completion.metrics_batch": ("metrics", "on_batch"),
}


class AnsweredGroup:
    """A one-stage group backend whose every submission is answered already (no compute, no hop)."""

    def start(self):
        return [{"group": 0}]

    async def start_async(self):
        return self.start()

    async def check_alive(self):
        return None

    def shutdown(self):
        pass

    def submit(self, model, tokens, ticket=None):
        from alpa_serve_like.runtime.controller_state import Submission

        loop = asyncio.get_running_loop()
        now = time.time()
        timing = {"stage": 0, "rank": 0, "start_wall_s": now, "end_wall_s": now, "compute_s": 0.0}
        first, last = loop.create_future(), loop.create_future()
        first.set_result({"summary": [{"norm": 1.0}] * len(tokens), "timings": [timing]})
        last.set_result(first.result())
        return Submission(first=first, last=last)


def make_core(model: str, metrics_kind: str):
    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.profiling.instance_profiles import instance_profiles, load_database
    from alpa_serve_like.runtime.controller_core import ControllerCore
    from alpa_serve_like.runtime.options import RuntimeOptions

    placement = Placement((GroupPlacement(ParallelConfig(1, 1, 1), (model,)),))
    options = RuntimeOptions(health_check_period_s=0, warm_up=False)
    profiles = instance_profiles(placement.models, load_database(options.database), options.profile_device)
    metrics = None
    if metrics_kind == "ray":
        from alpa_serve_like.runtime.metrics import ServeMetrics

        metrics = ServeMetrics(len(placement.groups))
    core = ControllerCore(placement, profiles, options, lambda g, generation: AnsweredGroup(), metrics=metrics)
    core.start()
    return core


def make_request(model: str, body: bytes):
    """A starlette ``Request`` as Serve's proxy hands one to the replica's ASGI app."""
    from starlette.requests import Request

    return Request(http_scope(model, body), receiver(body))


def http_scope(model: str, body: bytes) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": f"/v1/models/{model}/infer", "raw_path": f"/v1/models/{model}/infer".encode(),
            "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]}


def receiver(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # as a real server: nothing more until the client goes away
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def make_app(core, specs: dict):
    """A FastAPI app with ``ServingController.http_infer``'s route (without Serve's class binding)."""
    from fastapi import FastAPI, Request

    from alpa_serve_like.controllers import http_common
    from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES, document_request_bodies, request_body
    from alpa_serve_like.runtime.http_schemas import V1InferRequest, V1InferResponse

    api = FastAPI(title="bench")
    document_request_bodies(api)
    opts = core.options

    @api.post("/v1/models/{name}/infer", response_model=V1InferResponse, openapi_extra=request_body(V1InferRequest),
              responses=ERROR_RESPONSES)
    async def http_infer(name: str, request: Request):
        return await http_common.infer_response(name, request, specs, opts.max_body_bytes, core.infer,
                                                retry_after_s=opts.retry_after_s, overloaded=core.overloaded,
                                                body_timeout_s=opts.body_timeout_s)

    return api


def make_served_app(core, specs: dict):
    """``serving_controller.api`` as the fused replica runs it (its routes bound to the class by
    ``serve.ingress``, every route of the app), with ``serve.get_replica_context()`` answering a
    stand-in replica whose controller is ``core``."""
    import types
    import warnings

    from ray import serve

    from alpa_serve_like.controllers import serving_controller

    replica = object.__new__(serving_controller.ServingController.func_or_class)
    replica.core, replica.options, replica.specs, replica.apps = core, core.options, specs, {}
    context = types.SimpleNamespace(servable_object=replica)
    serve.get_replica_context = lambda: context
    # Serve's wrapper class has an async __del__ that only a replica awaits.
    warnings.filterwarnings("ignore", message="coroutine .*__del__' was never awaited")
    return serving_controller.api


class Timers:
    """Thread-CPU nanoseconds per label, summed over the wrapped calls."""

    def __init__(self):
        self.ns = defaultdict(int)
        self.calls = defaultdict(int)

    def wrap(self, label: str, fn):
        clock, ns, calls = time.thread_time_ns, self.ns, self.calls
        if asyncio.iscoroutinefunction(fn):
            async def timed_async(*args, **kwargs):
                t0 = clock()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    ns[label] += clock() - t0
                    calls[label] += 1
            return timed_async

        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                ns[label] += clock() - t0
                calls[label] += 1
        return timed


def timer_cost_ns(n: int = 20000) -> float:
    """What wrapping a call in ``Timers.wrap`` adds to it (thread CPU ns)."""
    timers = Timers()
    bare = timers.wrap("x", lambda: None)
    t0 = time.thread_time_ns()
    for _ in range(n):
        bare()
    wrapped_ns = (time.thread_time_ns() - t0) / n
    t0 = time.thread_time_ns()
    for _ in range(n):
        (lambda: None)()
    return wrapped_ns - (time.thread_time_ns() - t0) / n


def install_timers(core, timers: Timers) -> None:
    from alpa_serve_like.controllers import http_common
    from alpa_serve_like.runtime import dispatch

    owners = {"http_common": http_common, "dispatch": dispatch, "core": core, "scheduler": core.scheduler,
              "stats": core.stats, "metrics": core.metrics}
    for label, (owner, attr) in PIECES.items():
        setattr(owners[owner], attr, timers.wrap(label, getattr(owners[owner], attr)))


async def run_round(kind: str, core, apps: dict, specs: dict, model: str, body: bytes, n: int) -> float:
    """Thread-CPU microseconds per request over ``n`` sequential requests through ``kind``."""
    from alpa_serve_like.controllers import http_common
    from alpa_serve_like.runtime.requests import parse_infer_body

    opts = core.options
    parsed = parse_infer_body(body, model, specs[model], opts.max_body_bytes)
    sent = []

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def one():
        if kind in apps:
            await apps[kind](http_scope(model, body), receiver(body), send)
        elif kind == "handler":
            response = await http_common.infer_response(
                model, make_request(model, body), specs, opts.max_body_bytes, core.infer,
                retry_after_s=opts.retry_after_s, overloaded=core.overloaded, body_timeout_s=opts.body_timeout_s)
            assert response.status_code == 200, response.body
        else:
            result = await core.infer(parsed, time.time())
            assert result["outcome"] == "ok", result

    t0 = time.thread_time_ns()
    for _ in range(n):
        await one()
    elapsed_ns = time.thread_time_ns() - t0
    if kind in apps:
        assert sent == [200] * n, sent[:4]
    return elapsed_ns / n / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bert-tiny-0")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--metrics", choices=("ray", "null"), default="ray")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    from alpa_serve_like.core.instances import instance_spec

    body = json.dumps({"input": {"length": args.length}}).encode()
    specs = {args.model: instance_spec(args.model)}

    async def measure() -> dict:
        core = make_core(args.model, args.metrics)
        apps = {"served_app": make_served_app(core, specs), "asgi": make_app(core, specs)}
        totals = {kind: [] for kind in ("served_app", "asgi", "handler", "controller")}
        for kind in apps:  # warm-up
            await run_round(kind, core, apps, specs, args.model, body, 200)
        for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
            for kind in totals:
                totals[kind].append(await run_round(kind, core, apps, specs, args.model, body, args.requests))
        timers = Timers()
        install_timers(core, timers)
        per_round = defaultdict(list)
        for _ in range(args.rounds):
            timers.ns.clear()
            timers.calls.clear()
            await run_round("served_app", core, apps, specs, args.model, body, args.requests)
            for label in PIECES:
                per_round[label].append(timers.ns[label] / args.requests / 1e3)
        overhead_us = timer_cost_ns() / 1e3
        calls = {label: timers.calls[label] / args.requests for label in PIECES}
        # A piece's time holds its own timer's cost and that of every timer nested in it.
        timed_calls = {label: sum(c for inner, c in calls.items() if inner == label or inner.startswith(label + "."))
                       for label in PIECES}
        pieces = {label: round(max(0.0, statistics.median(v) - overhead_us * timed_calls[label]), 2)
                  for label, v in per_round.items()}
        core.shutdown()
        return {"totals_us": {k: round(statistics.median(v), 2) for k, v in totals.items()},
                "totals_us_all_rounds": {k: [round(x, 1) for x in v] for k, v in totals.items()},
                "pieces_us": pieces, "calls_per_request": calls, "timer_cost_us": round(overhead_us, 3)}

    result = asyncio.run(measure())
    t = result["totals_us"]
    result["derived_us"] = {
        "served_app_over_handler": round(t["served_app"] - t["handler"], 2),
        "fastapi_routing_and_send": round(t["asgi"] - t["handler"], 2),
        "handler_outside_controller": round(t["handler"] - t["controller"], 2),
    }
    emit_report({"model": args.model, "length": args.length, "requests_per_round": args.requests,
                 "rounds": args.rounds, "metrics": args.metrics, **result}, args.json)


if __name__ == "__main__":
    main()
