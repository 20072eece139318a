"""Runtime overhead: alpa_serve_like vs a plain Ray Serve deployment of the same model, same run.

Both apps run side by side in one Ray Serve instance on this machine (CPU, one model, no
batching): ``alpa`` serves a one-group placement (op=1, pp=1) of ``--model`` through the ingress,
controller and a stage actor; ``plain`` is one Serve deployment running the whole model in its
replica. Both report the model's compute time per request, so

    added latency = client-measured latency - compute time reported by the server

is what each serving path adds over the raw model compute. Latency: ``--requests`` sequential
requests, alternating between the two apps so machine noise hits both alike. Throughput:
``--clients`` closed-loop clients for ``--seconds``, alternating, twice each. Targets (issue 5):
added p50 under 5 ms, and alpa throughput at least 80% of plain.

    .venv/bin/python benchmarks/bench_runtime_overhead.py --model bert-tiny --length 128

``--serve-proxy haproxy|direct`` starts Ray with Serve's HAProxy or direct-ingress flag
(``runtime/serve_proxy.py``); both apps then share that front end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time

import numpy as np

from alpa_serve_like.runtime.serve_proxy import SERVE_PROXIES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_app(model: str, torch_threads: int):
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @serve.deployment(max_ongoing_requests=10_000, ray_actor_options={"num_cpus": 0.1})
    class PlainModel:
        """The baseline: one replica, the whole model, a JSON body of token ids or a length."""

        def __init__(self, name: str, threads: int):
            import torch

            from alpa_serve_like.models import build_model
            from alpa_serve_like.core.zoo import get_spec

            torch.set_num_threads(threads)
            self.torch = torch
            self.spec = get_spec(name)
            self.model = build_model(self.spec, seed=0)
            self.rng = np.random.default_rng(0)

        async def __call__(self, request: Request):
            body = await request.json()
            length = body["input"]["length"]
            tokens = self.torch.from_numpy(self.rng.integers(0, self.spec.vocab_size, (1, length)))
            t0 = time.perf_counter()
            with self.torch.inference_mode():
                out = self.model(tokens)
            compute_s = time.perf_counter() - t0
            return JSONResponse({"output": {"norm": float(out.norm())},
                                 "timing_ms": {"stages": [compute_s * 1e3]}})

    return PlainModel.bind(model, torch_threads)


async def sequential(session, url: str, body: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    lat, compute = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.post(url, json=body) as resp:
            data = await resp.json(content_type=None)
            assert resp.status == 200, data
        lat.append(time.perf_counter() - t0)
        compute.append(sum(data["timing_ms"]["stages"]) / 1e3)
    return np.array(lat), np.array(compute)


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

    out = {name: {"lat": [], "compute": [], "rps": []} for name in urls}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for name, url in urls.items():  # warm-up
            await sequential(session, url, body, 20)
        chunk = max(1, args.requests // 10)
        for _ in range(10):
            for name, url in urls.items():
                lat, comp = await sequential(session, url, body, chunk)
                out[name]["lat"].append(lat)
                out[name]["compute"].append(comp)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bert-tiny")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--serve-proxy", choices=SERVE_PROXIES, default="default",
                        help="HTTP front end of both apps: Serve's Python proxy, HAProxy, or direct "
                             "ingress (each app's ingress replica on its own port)")
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
    serve.run(build_app({"placement": placement_path, "device": "cpu", "torch_threads": args.torch_threads,
                         "health_check_period_s": 0}), name="alpa", route_prefix="/alpa")
    serve.run(plain_app(args.model, args.torch_threads), name="plain", route_prefix="/plain")
    urls = {"alpa": f"{ingress_urls('alpa')[0]}/v1/models/{instance}/infer", "plain": ingress_urls("plain")[0]}
    body = {"input": {"length": args.length}}
    try:
        res = asyncio.run(measure(urls, body, args))
    finally:
        serve.shutdown()
        ray.shutdown()
    raw = raw_compute_s(args.model, args.length, args.torch_threads)

    report = {"model": args.model, "length": args.length, "serve_proxy": args.serve_proxy, "urls": urls, "raw_compute_ms_p50": float(np.median(raw) * 1e3)}
    for name, r in res.items():
        lat, comp = np.concatenate(r["lat"]), np.concatenate(r["compute"])
        added = (lat - comp) * 1e3
        report[name] = {
            "latency_ms_p50": float(np.percentile(lat, 50) * 1e3), "latency_ms_p99": float(np.percentile(lat, 99) * 1e3),
            "compute_ms_p50": float(np.median(comp) * 1e3),
            "added_ms_p50": float(np.percentile(added, 50)), "added_ms_p99": float(np.percentile(added, 99)),
            "throughput_rps": [round(x, 1) for x in r["rps"]], "throughput_rps_mean": float(np.mean(r["rps"])),
        }
    report["alpa_vs_plain_throughput"] = report["alpa"]["throughput_rps_mean"] / report["plain"]["throughput_rps_mean"]
    report["alpa_added_p50_minus_plain_ms"] = report["alpa"]["added_ms_p50"] - report["plain"]["added_ms_p50"]
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
