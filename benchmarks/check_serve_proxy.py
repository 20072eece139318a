"""Smoke check of the app behind one Serve HTTP front end: does it start, answer, and shed?

Starts a local Ray with ``--serve-proxy`` (``runtime/serve_proxy.py``), serves the default app
(``device=cpu`` plus ``--option`` KEY=VALUE app arguments) and, at the URL Serve lists for it,
reads ``/v1/stats``, sends ``--sequential`` requests one at a time (status of the last, p50
latency), then ``--burst`` at once and counts them by (status, ``Retry-After``). With
``--option max_ongoing_requests=1 --option max_queued_requests=1 --option retry_after_s=2``
most of the burst must come back 503 with ``Retry-After: 2``; with ``--serve-proxy gate --gate
max_conn=1 --gate max_queue=1`` the gate itself answers them (``burst_reasons``: ``gate_full``).
Ray starts here, so:

    export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0  # else Serve may list the replica at the external address
    flock /tmp/ray.lock .venv/bin/python benchmarks/check_serve_proxy.py --serve-proxy haproxy \\
        --option max_ongoing_requests=1 --option max_queued_requests=1 --option retry_after_s=2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from collections import Counter

from alpa_serve_like.runtime.haproxy_gate import GateOptions, HAProxyGate
from alpa_serve_like.runtime.serve_proxy import SERVE_PROXIES


async def probe(url: str, model: str, sequential: int, burst: int) -> dict:
    import aiohttp

    body = {"input": {"length": 16}}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/v1/stats") as resp:
            stats_status = resp.status

        async def one() -> tuple[int, str | None, float, str]:
            t0 = time.perf_counter()
            async with session.post(f"{url}/v1/models/{model}/infer", json=body) as resp:
                raw = await resp.read()
                try:
                    reason = str(json.loads(raw).get("reason", ""))
                except ValueError:  # Serve's proxy answers its own 503 in plain text
                    reason = "not-json"
                return resp.status, resp.headers.get("Retry-After"), time.perf_counter() - t0, reason

        serial = [await one() for _ in range(sequential)]
        together = await asyncio.gather(*(one() for _ in range(burst)))
    latencies_ms = sorted(lat * 1e3 for _, _, lat, _ in serial)
    return {
        "stats_status": stats_status,
        "sequential_last_status": serial[-1][0] if serial else None,
        "sequential_p50_ms": round(latencies_ms[len(latencies_ms) // 2], 2) if serial else None,
        "burst": {f"{status} Retry-After={retry}": n
                  for (status, retry), n in Counter((s, r) for s, r, _, _ in together).items()},
        "burst_reasons": dict(Counter(reason or str(status) for status, _, _, reason in together)),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-proxy", choices=SERVE_PROXIES, default="default")
    parser.add_argument("--option", action="append", default=[], help="app argument KEY=VALUE")
    parser.add_argument("--gate", action="append", default=[], help="GateOptions KEY=VALUE of --serve-proxy gate")
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--burst", type=int, default=40)
    args = parser.parse_args()

    from ray import serve

    from alpa_serve_like.runtime.local_ray import start_local_ray
    from alpa_serve_like.runtime.serve_proxy import ingress_urls
    from alpa_serve_like.serve import build_app

    ray = start_local_ray(num_cpus=4, serve_proxy=args.serve_proxy)
    port, gate = free_port(), None
    try:
        t0 = time.monotonic()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app_args = {"device": "cpu", **dict(kv.split("=", 1) for kv in args.option)}
        serve.run(build_app(app_args), name="default", route_prefix="/")
        url = ingress_urls("default")[0]
        if args.serve_proxy == "gate":  # our HAProxy in front of the replica's own port
            gate_args = {"retry_after_s": app_args.get("retry_after_s", 1), **dict(kv.split("=", 1) for kv in args.gate)}
            gate = HAProxyGate(GateOptions.from_args({**gate_args, "port": free_port()}), ingress_urls("default")).start()
            url = gate.url
        report = {"serve_proxy": args.serve_proxy, "app_args": app_args, "url": url,
                  "start_s": round(time.monotonic() - t0, 1),
                  **asyncio.run(probe(url, "bert-tiny-0", args.sequential, args.burst))}
    finally:
        if gate is not None:
            gate.stop()
        serve.shutdown()
        ray.shutdown()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
