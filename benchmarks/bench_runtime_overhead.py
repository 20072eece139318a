"""Runtime overhead: alpa_serve_like vs a plain Ray Serve deployment of the same model, same run.

The apps run side by side in one Ray Serve instance on this machine (CPU, one model, no
batching). The alpa candidates (``APPS``) serve a one-group placement (op=1, pp=1) of ``--model``:
``alpa-fused`` (the default topology: proxy -> controller serving HTTP -> stage actor, over the
default stage transport, a local socket), ``alpa-fused-compiled-graph`` and
``alpa-fused-actor-call`` (the same calling its stage actor over a Ray compiled graph or an actor
call), ``alpa-separate`` (``ingress=separate``: proxy -> ingress -> controller -> stage actor) and
``alpa-separate-serve-defaults`` (that with Serve's default replica settings, not
``low_latency_replicas``). ``plain`` is one Serve deployment running the whole model in its
replica (proxy -> replica), with the same replica settings as alpa's default;
``plain-serve-defaults`` with Serve's; with ``--plain-fastapi``, ``plain-fastapi`` is plain's model
behind a FastAPI ingress on alpa's route (the ASGI app path every ``@serve.ingress`` app takes,
alpa's included: its share of alpa's gap).
All report the model's compute time per request, so

    added latency = client-measured latency - compute time reported by the server

is what each serving path adds over the raw model compute. Latency: ``--requests`` sequential
requests, alternating between the apps so machine noise hits all alike. Throughput:
``--clients`` closed-loop clients for ``--seconds``, alternating, twice each. Targets: added p50
within 1 ms of plain's (issue 10; also given per round of back-to-back chunks, and how many
rounds met it; every app's gap to plain is reported the same way), alpa throughput at least 80%
of plain (issue 5). Each alpa app's answers also say where its server-side time went
(``timing_ms``): the report's ``server_ms_p50`` (handler arrival to answer; plain's too) and
``hops_ms_p50`` (controller -> stage -> controller outside compute), and the rest of the added
latency is Serve's proxy and the ingress hop.
The machine's load average is in the report (a noisy machine moves every figure; compare apps
within one run only).

    .venv/bin/python benchmarks/bench_runtime_overhead.py --model bert-tiny --length 128

``--serve-proxy haproxy|direct`` starts Ray with Serve's HAProxy or direct-ingress flag
(``runtime/serve_proxy.py``); both apps then share that front end. ``--serve-proxy gate`` puts
a gate (``runtime/haproxy_gate.py``, default options) in front of each app's own port.
"""

import argparse
import asyncio
import os
import socket
import time
from urllib.parse import urlsplit

import numpy as np

from alpa_serve_like.runtime.haproxy_gate import GateOptions, HAProxyGate
from alpa_serve_like.runtime.serve_proxy import SERVE_PROXIES
from bench_report import emit_report  # noqa: E402 (benchmarks/)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


APPS = {
    "alpa-fused": {"ingress": "fused"},
    "alpa-fused-compiled-graph": {"ingress": "fused", "stage_transport": "compiled_graph"},
    "alpa-fused-actor-call": {"ingress": "fused", "stage_transport": "actor_call"},
    "alpa-separate": {"ingress": "separate"},
    "alpa-separate-serve-defaults": {"ingress": "separate", "low_latency_replicas": "false"},
}
"""The alpa candidates (``serve run`` arguments over the defaults): the default (the controller
serving HTTP, its stage over a socket), the same over the other two stage transports, the separate
ingress, and that with Serve's default replica settings."""


def plain_model_class():
    """The baseline's replica class: the whole model, a JSON body of token ids or a length."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    class PlainModel:
        def __init__(self, name: str, threads: int):
            import torch

            from alpa_serve_like.models import build_model
            from alpa_serve_like.core.zoo import get_spec

            torch.set_num_threads(threads)
            self.torch = torch
            self.spec = get_spec(name)
            self.model = build_model(self.spec, seed=0)
            self.rng = np.random.default_rng(0)

        async def answer(self, request: Request):
            arrival_s = time.time()  # where alpa's handler stamps its arrival, for server_ms_p50
            body = await request.json()
            length = body["input"]["length"]
            tokens = self.torch.from_numpy(self.rng.integers(0, self.spec.vocab_size, (1, length)))
            t0 = time.perf_counter()
            with self.torch.inference_mode():
                out = self.model(tokens)
            compute_s = time.perf_counter() - t0
            return JSONResponse({"output": {"norm": float(out.norm())},
                                 "timing_ms": {"stages": [compute_s * 1e3], "total": (time.time() - arrival_s) * 1e3}})

    return PlainModel


def plain_app(model: str, torch_threads: int, low_latency: bool):
    """The baseline: one replica running the whole model (proxy -> replica)."""
    from ray import serve

    from alpa_serve_like.runtime.options import RuntimeOptions

    actor_options = RuntimeOptions(low_latency_replicas=low_latency).replica_actor_options()
    deployment = serve.deployment(max_ongoing_requests=10_000, ray_actor_options=actor_options)

    class PlainModelApp(plain_model_class()):
        async def __call__(self, request):
            return await self.answer(request)

    return deployment(PlainModelApp).bind(model, torch_threads)


def plain_fastapi_app(model: str, torch_threads: int, low_latency: bool):
    """``plain``'s model behind a FastAPI ingress (``@serve.ingress``) on alpa's infer route: how
    much of alpa's gap is Serve's ASGI ingress path and FastAPI's middleware, not alpa."""
    # Real annotations, not strings (this file has no ``from __future__ import annotations``):
    # FastAPI reads the route's parameter types in the replica, where a string "Request" would
    # not resolve (the class travels by value, without this module's globals).
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from ray import serve

    from alpa_serve_like.controllers.infer_fast_path import INFER_PATH
    from alpa_serve_like.runtime.options import RuntimeOptions

    api = FastAPI()
    actor_options = RuntimeOptions(low_latency_replicas=low_latency).replica_actor_options()
    inner = plain_model_class()

    @serve.deployment(max_ongoing_requests=10_000, ray_actor_options=actor_options)
    @serve.ingress(api)
    class PlainFastAPIModel(inner):
        @api.post(INFER_PATH)
        async def infer(self, name: str, request: Request) -> JSONResponse:
            return await self.answer(request)

    return PlainFastAPIModel.bind(model, torch_threads)


async def sequential(session, url: str, body: dict, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    lat, compute, timings = [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.post(url, json=body) as resp:
            data = await resp.json(content_type=None)
            assert resp.status == 200, data
        lat.append(time.perf_counter() - t0)
        compute.append(sum(data["timing_ms"]["stages"]) / 1e3)
        timings.append(data["timing_ms"])
    return np.array(lat), np.array(compute), timings


async def closed_loop(session, url: str, body: dict, clients: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def client():
        nonlocal done
        while time.perf_counter() < stop:
            async with session.post(url, json=body) as resp:
                await resp.read()
                if resp.status == 200:
                    done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - t0)


async def measure(urls: dict, body: dict, args) -> dict:
    import aiohttp

    out = {name: {"lat": [], "compute": [], "timings": [], "rps": []} for name in urls}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for name, url in urls.items():  # warm-up
            await sequential(session, url, body, 20)
        chunk = max(1, args.requests // 10)
        for _ in range(10):
            for name, url in urls.items():
                lat, comp, timings = await sequential(session, url, body, chunk)
                out[name]["lat"].append(lat)
                out[name]["compute"].append(comp)
                out[name]["timings"] += timings
        for _ in range(2):
            for name, url in urls.items():
                out[name]["rps"].append(await closed_loop(session, url, body, args.clients, args.seconds))
    return out


def raw_compute_s(model: str, length: int, threads: int, n: int = 200) -> np.ndarray:
    import torch

    from alpa_serve_like.models import build_model, random_token_ids
    from alpa_serve_like.core.zoo import get_spec

    torch.set_num_threads(threads)
    spec = get_spec(model)
    net = build_model(spec, seed=0)
    gen = torch.Generator().manual_seed(0)
    times = []
    with torch.inference_mode():
        for _ in range(n):
            x = random_token_ids(spec, 1, length, gen)
            t0 = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t0)
    return np.array(times[20:])


def round_added_p50_ms(result: dict) -> list[float]:
    """Added latency p50 (ms) of each round's chunk of sequential requests of one app."""
    return [float(np.percentile((lat - comp) * 1e3, 50)) for lat, comp in zip(result["lat"], result["compute"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bert-tiny")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--apps", default="alpa-fused,alpa-fused-compiled-graph,alpa-fused-actor-call",
                        help=f"comma-separated alpa candidates to serve beside plain (of {sorted(APPS)})")
    parser.add_argument("--serve-proxy", choices=SERVE_PROXIES, default="default",
                        help="HTTP front end of both apps: Serve's Python proxy, HAProxy, or direct "
                             "ingress (each app's ingress replica on its own port)")
    parser.add_argument("--plain-fastapi", action="store_true",
                        help="also serve plain's model behind a FastAPI ingress on alpa's route (plain-fastapi)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import ray
    from ray import serve

    from alpa_serve_like.core.parallel_config import ParallelConfig
    from alpa_serve_like.core.plan import GroupPlacement, Placement
    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.runtime.serve_proxy import ingress_urls
    from alpa_serve_like.serve import build_app

    instance = f"{args.model}-0"
    placement_path = f"/tmp/bench_runtime_overhead_{args.model}.json"
    Placement((GroupPlacement(ParallelConfig(1, 1, 1), (instance,)),), meta={"bench": True}).save(placement_path)

    start_local_ray(num_cpus=4, serve_proxy=args.serve_proxy)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    urls, gates = {}, []

    def front(name: str) -> str:
        """The app's base URL: with ``--serve-proxy gate``, a gate of its own (apps have own ports)."""
        if args.serve_proxy != "gate":
            return ingress_urls(name)[0]
        gates.append(HAProxyGate(GateOptions(port=free_port()), ingress_urls(name)).start())
        return gates[-1].url + urlsplit(ingress_urls(name)[0]).path

    for name in args.apps.split(","):
        serve.run(build_app({"placement": placement_path, "device": "cpu", "torch_threads": args.torch_threads,
                             "health_check_period_s": 0, **APPS[name]}), name=name, route_prefix=f"/{name}")
        urls[name] = f"{front(name)}/v1/models/{instance}/infer"
    # The baseline with the same per-replica Serve settings as alpa's default, and with Serve's own.
    for name, low_latency in (("plain", True), ("plain-serve-defaults", False)):
        serve.run(plain_app(args.model, args.torch_threads, low_latency), name=name, route_prefix=f"/{name}")
        urls[name] = front(name)
    if args.plain_fastapi:
        serve.run(plain_fastapi_app(args.model, args.torch_threads, True), name="plain-fastapi",
                  route_prefix="/plain-fastapi")
        urls["plain-fastapi"] = f"{front('plain-fastapi')}/v1/models/{instance}/infer"
    load_before = os.getloadavg()
    body = {"input": {"length": args.length}}
    try:
        res = asyncio.run(measure(urls, body, args))
    finally:
        for gate in gates:
            gate.stop()
        serve.shutdown()
        ray.shutdown()
    raw = raw_compute_s(args.model, args.length, args.torch_threads)

    report = {"model": args.model, "length": args.length, "serve_proxy": args.serve_proxy, "urls": urls,
              "raw_compute_ms_p50": float(np.median(raw) * 1e3),
              "loadavg_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    for name, r in res.items():
        lat, comp = np.concatenate(r["lat"]), np.concatenate(r["compute"])
        added = (lat - comp) * 1e3
        report[name] = {
            "latency_ms_p50": float(np.percentile(lat, 50) * 1e3), "latency_ms_p99": float(np.percentile(lat, 99) * 1e3),
            "compute_ms_p50": float(np.median(comp) * 1e3),
            "added_ms_p50": float(np.percentile(added, 50)), "added_ms_p99": float(np.percentile(added, 99)),
            "throughput_rps": [round(x, 1) for x in r["rps"]], "throughput_rps_mean": float(np.mean(r["rps"])),
        }
        report[name]["server_ms_p50"] = float(np.median([t["total"] for t in r["timings"]]))
        if name.startswith("alpa"):
            report[name]["hops_ms_p50"] = float(np.median([sum(t["hops"]) for t in r["timings"]]))
    plain_rounds = round_added_p50_ms(res["plain"])
    for name in urls:
        if name != "plain":
            report[f"{name}_vs_plain_throughput"] = (report[name]["throughput_rps_mean"]
                                                     / report["plain"]["throughput_rps_mean"])
            report[f"{name}_added_p50_minus_plain_ms"] = report[name]["added_ms_p50"] - report["plain"]["added_ms_p50"]
            # The same per round (each round's chunks ran back to back): whether the gap holds in
            # every round or only in some, which a noisy machine's pooled median cannot tell.
            by_round = [round(a - b, 3) for a, b in zip(round_added_p50_ms(res[name]), plain_rounds)]
            report[f"{name}_added_p50_minus_plain_ms_by_round"] = by_round
            report[f"{name}_rounds_within_1ms_of_plain"] = f"{sum(gap <= 1.0 for gap in by_round)}/{len(by_round)}"
    emit_report(report, args.json)


if __name__ == "__main__":
    main()
