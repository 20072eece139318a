"""The live compound executor on a virtual clock: exact task timelines with fan-out, outputs feeding
children, per-task deadlines, and a failed task failing the request (no Ray, no server)."""
from __future__ import annotations

import asyncio

import pytest

from alpa_serve_like.compound.app_spec import AppSpecError, CompoundApp, Task, Variant
from alpa_serve_like.compound.executor import compose_tokens, run_app_request, served_app

LATENCY_S = {"m-root": 0.1, "m-c": 0.2, "m-d": 0.05, "m-s": 0.1}


def diamond() -> CompoundApp:
    """root -> (c with fan-out 2, d) -> s; SLO 1 s, longest path 3 tasks."""
    def one(model):
        return (Variant(model, 0.9),)
    return CompoundApp("diamond", (Task("root", one("m-root")), Task("c", one("m-c"), 2, ("root",)),
                                   Task("d", one("m-d"), 1, ("root",)), Task("s", one("m-s"), 1, ("c", "d"))),
                       slo_s=0.9)


class VirtualServer:
    """Every call runs at once on its own server and ends ``LATENCY_S[model]`` later on a virtual
    clock; ``outcome_by_model`` answers some models with a failure instead."""

    def __init__(self, outcome_by_model=None):
        self.now = 0.0
        self.calls: list[dict] = []
        self.outcome_by_model = outcome_by_model or {}

    def clock(self) -> float:
        return self.now

    async def serve_task(self, model, tokens, slo_s, arrival_s):
        call = {"model": model, "tokens": tokens, "deadline_s": arrival_s + slo_s, "start_s": self.now,
                "end_s": self.now + LATENCY_S[model], "future": asyncio.get_running_loop().create_future()}
        self.calls.append(call)
        return await call["future"]

    async def drive(self, coro):
        """Run ``coro``, each time resolving the earliest-ending open call (ties: first issued)."""
        job = asyncio.ensure_future(coro)
        while True:
            for _ in range(10):
                await asyncio.sleep(0)
            if job.done():
                return job.result()
            call = min((c for c in self.calls if not c["future"].done()), key=lambda c: c["end_s"])
            self.now = call["end_s"]
            outcome = self.outcome_by_model.get(call["model"], "ok")
            if outcome == "ok":
                result = {"outcome": "ok", "group": 0, "output": {"norm": sum(call["tokens"]) / 7.0, "head": [0.5]},
                          "timing_ms": {"total": round(LATENCY_S[call["model"]] * 1e3, 3)}}
            else:
                result = {"outcome": outcome, "reason": "slo", "error": "predicted latency misses the SLO"}
            call["future"].set_result(result)


def run(server, app=None, **kw):
    served = served_app(app or diamond(), LATENCY_S)
    vocab = {m: 1000 for m in LATENCY_S}
    return asyncio.run(server.drive(run_app_request(served, (1, 2, 3), server.serve_task, vocab, 0.0,
                                                    server.clock, **kw)))


def test_exact_timeline_of_a_diamond_with_fan_out():
    # root 0-100 ms; c twice in parallel 100-300, d 100-150; s starts when both are back, 300-400.
    server = VirtualServer()
    out = run(server)
    assert out["outcome"] == "ok" and out["slo_met"] is True
    tasks = out["timing_ms"]["tasks"]
    assert {t: (v["start"], v["end"]) for t, v in tasks.items()} == {
        "root": (0.0, 100.0), "c": (100.0, 300.0), "d": (100.0, 150.0), "s": (300.0, 400.0)}
    assert out["timing_ms"]["total"] == 400.0 and out["timing_ms"]["slo"] == 900.0
    assert [c["model"] for c in server.calls] == ["m-root", "m-c", "m-c", "m-d", "m-s"]
    assert len(tasks["c"]["invocations"]) == 2 and tasks["c"]["invocations"][0]["total"] == 200.0
    # Even split of 0.9 s over 3 tasks: root's latest finish leaves 0.6 for (c or d) then s.
    assert [round(c["deadline_s"], 9) for c in server.calls] == [0.3, 0.6, 0.6, 0.6, 0.9]
    assert set(out["output"]) == {"s"} and len(out["output"]["s"]) == 1


def test_parents_outputs_feed_children_and_fan_out_invocations_differ():
    server = VirtualServer()
    run(server)
    root, c1, c2, d, s = server.calls
    assert root["tokens"] == (1, 2, 3)
    assert c1["tokens"] != c2["tokens"]  # one per detected object
    root_out = {"norm": 6 / 7.0, "head": [0.5]}
    assert c1["tokens"] == compose_tokens([root_out], 0, 3, 1000)
    assert d["tokens"] == compose_tokens([root_out], 0, 3, 1000)
    # s reads both c outputs and d's output, in parent order.
    outs = [{"norm": sum(x["tokens"]) / 7.0, "head": [0.5]} for x in (c1, c2, d)]
    assert s["tokens"] == compose_tokens(outs, 0, 3, 1000)


def test_a_request_slo_scales_every_task_deadline():
    server = VirtualServer()
    out = run(server, slo_s=0.3)
    assert [round(c["deadline_s"], 9) for c in server.calls] == [0.1, 0.2, 0.2, 0.2, 0.3]
    assert out["outcome"] == "ok" and out["slo_met"] is False


def test_a_failed_task_fails_the_request_with_a_clear_error():
    # d is rejected at 150 ms: the request ends there, c is cancelled and s never runs.
    server = VirtualServer({"m-d": "rejected"})
    out = run(server)
    assert out["outcome"] == "rejected" and out["reason"] == "slo"
    assert out["failed_task"] == "d" and out["model"] == "m-d" and out["invocation"] == 0
    assert "task 'd' (model 'm-d', invocation 1 of 1) was rejected" in out["error"]
    assert out["timing_ms"]["total"] == 150.0
    assert set(out["timing_ms"]["tasks"]) == {"root", "d"}
    assert "m-s" not in [c["model"] for c in server.calls]


def test_served_app_takes_the_most_accurate_hosted_variant_or_names_the_task():
    app = CompoundApp("a", (Task("t", (Variant("small", 0.8), Variant("big", 0.9), Variant("mid", 0.85))),),
                      slo_s=1.0)
    assert served_app(app, ["small", "mid"]).model_by_task == {"t": "mid"}
    assert served_app(app, ["small", "mid"], variant_by_task={"t": "small"}).model_by_task == {"t": "small"}
    with pytest.raises(AppSpecError, match="task 't': none of .* is served by this placement"):
        served_app(app, ["other"])
