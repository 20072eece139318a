"""One hop, four transports: what a controller -> stage actor round trip costs on this machine.

Candidates for the hop the runtime adds over a plain Serve deployment (issue 10): from an async
actor standing in for the controller, ``--calls`` sequential round trips to a stage actor whose
method returns a small dict at once (no model), over

* ``actor_call``: an ordinary Ray actor call (what ``MeshGroup.submit`` uses today);
* ``compiled_graph``: Ray's compiled graph (``experimental_compile(enable_asyncio=True)``:
  shared-memory channels, the actor runs a loop waiting on them);
* ``socket``: the stage actor's Unix socket (``runtime/socket_stages.py``, one-stage groups'
  default transport);

and ``serve_handle``: a Serve deployment handle call from one replica to another (what the
separate ingress uses to reach the controller), with Serve's default replica settings and
(``serve_handle_low_latency``) with ``RuntimeOptions.low_latency_replicas``'s, the default's. Rounds alternate so machine noise hits all alike;
the report has each transport's p50/p90 in ms, the CPU the caller and the stage actor processes
used per round trip (all their threads: a channel reader that polls shows here), and the
machine's load average before and after.

Benchmark: not part of any test run; Ray starts here, so run it under the shared lock:

    .venv/bin/python benchmarks/bench_hop_transport.py --json /tmp/hops.json
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from bench_report import emit_report  # noqa: E402 (benchmarks/)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="round trips per transport per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    from alpa_serve_like.runtime.local_ray import start_local_ray

    ray = start_local_ray(num_cpus=4)
    from ray import serve
    from ray.dag import InputNode

    from alpa_serve_like.runtime.socket_stages import SocketStage, StageSocketServer

    @ray.remote(num_cpus=0.1)
    class Stage:
        def __init__(self):
            self.server = StageSocketServer(lambda model, payload: (self.run(payload), None), 0, 1)

        def run(self, x):
            return {"end_wall_s": time.time(), "x": x}

        def address(self) -> str:
            return self.server.address

        def cpu_s(self) -> float:
            return time.process_time()

    @ray.remote(num_cpus=0.1)
    class Caller:
        def __init__(self, stage, address: str):
            self.stage, self.compiled = stage, None
            self.socket = SocketStage([address], RuntimeError)

        def cpu_s(self) -> float:
            return time.process_time()

        async def socket_call(self, n: int) -> list:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                await self.socket.call("m", 1)[1]
                out.append(time.perf_counter() - t0)
            return out

        async def actor_call(self, n: int) -> list:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                await self.stage.run.remote(1)
                out.append(time.perf_counter() - t0)
            return out

        async def compiled_graph(self, n: int) -> list:
            if self.compiled is None:
                with InputNode() as inp:
                    dag = self.stage.run.bind(inp)
                self.compiled = dag.experimental_compile(enable_asyncio=True)
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                await (await self.compiled.execute_async(1))
                out.append(time.perf_counter() - t0)
            return out

    from alpa_serve_like.runtime.options import RuntimeOptions

    @serve.deployment(ray_actor_options={"num_cpus": 0.1})
    class Callee:
        async def run(self, x):
            return {"end_wall_s": time.time(), "x": x}

    @serve.deployment(ray_actor_options={"num_cpus": 0.1})
    class HandleCaller:
        def __init__(self, callee):
            self.callee = callee

        async def serve_handle(self, n: int) -> list:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                await self.callee.run.remote(1)
                out.append(time.perf_counter() - t0)
            return out

    load_before = os.getloadavg()
    stage = Stage.remote()
    caller = Caller.remote(stage, ray.get(stage.address.remote()))
    handle = serve.run(HandleCaller.bind(Callee.bind()), name="hops", route_prefix=None)
    fast = RuntimeOptions(low_latency_replicas=True).replica_actor_options()
    fast_handle = serve.run(HandleCaller.options(ray_actor_options=fast).bind(
        Callee.options(ray_actor_options=fast).bind()), name="hops-low-latency", route_prefix=None)
    runs = {
        "actor_call": lambda n: ray.get(caller.actor_call.remote(n)),
        "compiled_graph": lambda n: ray.get(caller.compiled_graph.remote(n)),
        "socket": lambda n: ray.get(caller.socket_call.remote(n)),
        "serve_handle": lambda n: handle.serve_handle.remote(n).result(timeout_s=600),
        "serve_handle_low_latency": lambda n: fast_handle.serve_handle.remote(n).result(timeout_s=600),
    }
    samples = {name: [] for name in runs}
    cpu_s = {name: 0.0 for name in ("actor_call", "compiled_graph", "socket")}  # caller + stage
    try:
        for run in runs.values():  # warm-up (and the graph's compilation)
            run(30)
        for _ in range(args.rounds):
            for name, run in runs.items():
                before = ray.get([caller.cpu_s.remote(), stage.cpu_s.remote()]) if name in cpu_s else None
                samples[name] += run(args.calls)
                if before is not None:
                    cpu_s[name] += sum(ray.get([caller.cpu_s.remote(), stage.cpu_s.remote()])) - sum(before)
    finally:
        serve.shutdown()
        ray.shutdown()
    report = {"calls": args.calls * args.rounds,
              "loadavg_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    for name, values in samples.items():
        ms = np.array(values) * 1e3
        report[name] = {"p50_ms": round(float(np.median(ms)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3)}
        if name in cpu_s:
            report[name]["cpu_ms_per_call"] = round(cpu_s[name] / len(values) * 1e3, 3)
    emit_report(report, args.json)


if __name__ == "__main__":
    main()
