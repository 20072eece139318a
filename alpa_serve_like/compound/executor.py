"""Running one request of a compound application live: the task graph over a model-serving call.

The live server's ``/v1/apps/{name}/infer`` route (``controllers.app_routes``) hands each request
to ``run_app_request`` with ``serve_task``, the function that serves one model request on the
groups (``ControllerCore.infer`` in the fused server). So every invocation is routed and admitted
per task by the shared scheduling code, with the task's deadline: the request's arrival plus the
task's latest finish (``task_deadline_offsets_s``, the rule the compound simulator uses).

* Roots start at once; a task starts when all its parents have answered, and issues its
  ``fan_out`` invocations together.
* Parents' outputs feed children (model composition): a model answers with a summary of its
  output vector (``{"norm", "head"}``), and a child's input tokens are derived from its parents'
  summaries, in parent order, and the invocation's index (``compose_tokens``; ours: the models are
  stand-ins, so the derivation only has to be deterministic and depend on every parent's output).
* The first invocation that is not ``ok`` fails the whole request: the answer names the task,
  its model and invocation, carries the model call's outcome and reason (so HTTP maps it the way it
  maps a single-model answer); the request stops waiting for its other running tasks (their
  invocations already admitted still run on the groups, as a departed client's would).
* Every answer carries per-task timing (start and end after arrival, the deadline, each
  invocation's own timing) and the end-to-end total; ``slo_met`` when every sink finished in time.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

from alpa_serve_like.compound.app_spec import AppSpecError, CompoundApp, Task, task_deadline_offsets_s

ServeTask = Callable[[str, tuple, float, float], Awaitable[dict]]
"""``serve_task(model, tokens, slo_s, arrival_s)``: one model request whose deadline is
``arrival_s + slo_s``; returns the controller's result dict (``outcome`` ``ok`` with ``output``)."""


@dataclass(frozen=True)
class ServedApp:
    """An application as one server runs it: the model serving each task and each task's deadline."""

    app: CompoundApp
    model_by_task: dict[str, str]
    deadline_offset_s_by_task: dict[str, float]
    """Latest finish of each task after the request's arrival (at the application's SLO)."""

    def to_dict(self) -> dict:
        return {"name": self.app.name, "slo_s": self.app.slo_s, "model_by_task": dict(self.model_by_task),
                "deadline_ms_by_task": {t: round(s * 1e3, 3) for t, s in self.deadline_offset_s_by_task.items()},
                "tasks": [{"name": t.name, "parents": list(t.parents), "fan_out": t.fan_out} for t in self.app.tasks]}


def served_app(app: CompoundApp, hosted_models, variant_by_task: dict[str, str] | None = None,
               budget_s_by_task: dict[str, float] | None = None,
               base_of: Callable[[str], str] = lambda name: name) -> ServedApp:
    """``app`` on a server hosting ``hosted_models``: each task runs ``variant_by_task[task]`` (a
    compound plan's choice) or else its most accurate hosted variant; budgets are the plan's or
    else an even split of the SLO over the longest root-to-leaf path. A variant names a database
    model; a hosted instance serves it when its name or ``base_of(name)`` (the zoo's instance ->
    model map) is that model. Fails naming the task when no variant of it is hosted."""
    hosted = list(hosted_models)
    chosen = {}
    for t in app.tasks:
        wanted = (variant_by_task or {}).get(t.name)
        names = [v.model for v in t.variants]
        if wanted is not None:
            if wanted not in names:
                raise AppSpecError(f"application {app.name!r} task {t.name!r}: the plan's variant {wanted!r} "
                                   f"is not one of its variants {names}")
            candidates = [wanted]
        else:
            candidates = [v.model for v in sorted(t.variants, key=lambda v: -v.accuracy)]
        served = [h for m in candidates for h in hosted if h == m or base_of(h) == m]
        if not served:
            raise AppSpecError(f"application {app.name!r} task {t.name!r}: none of {candidates} is served by "
                               f"this placement (it hosts {hosted}); add one to a group or change the task")
        chosen[t.name] = served[0]
    if budget_s_by_task is None:
        share = app.slo_s / max(len(p) for p in app.paths())
        budget_s_by_task = {t.name: share for t in app.tasks}
    offsets = task_deadline_offsets_s(app, budget_s_by_task)
    return ServedApp(app, chosen, {t.name: off for t, off in zip(app.tasks, offsets)})


def compose_tokens(parent_outputs: list[dict], invocation: int, length: int, vocab_size: int) -> tuple[int, ...]:
    """A child's ``length`` input token ids from its parents' output summaries (in order) and the
    index of its invocation (fan-out: one per detected object, say)."""
    values = [v for out in parent_outputs for v in [out["norm"], *out["head"]]] or [0.0]
    return tuple(int(abs(values[j % len(values)]) * 1e4 + 7919 * invocation + j) % vocab_size
                 for j in range(length))


async def run_app_request(served: ServedApp, tokens: tuple[int, ...], serve_task: ServeTask,
                          vocab_size_by_model: dict[str, int], arrival_s: float,
                          clock: Callable[[], float], slo_s: float | None = None) -> dict:
    """Serve one request of ``served`` whose roots get ``tokens``; returns the result dict (see the
    module docstring). ``slo_s`` other than the application's scales every task's deadline."""
    app = served.app
    scale = 1.0 if slo_s is None else slo_s / app.slo_s
    total_slo_s = app.slo_s * scale
    outputs: dict[str, list[dict]] = {}
    timing: dict[str, dict] = {}
    running: dict[asyncio.Task, Task] = {}

    def ms(t_s: float) -> float:
        return round((t_s - arrival_s) * 1e3, 3)

    async def run_task(task: Task) -> tuple[float, list[dict]]:
        model = served.model_by_task[task.name]
        deadline_s = served.deadline_offset_s_by_task[task.name] * scale
        if task.parents:
            parents = [out for p in task.parents for out in outputs[p]]
            inputs = [compose_tokens(parents, i, len(tokens), vocab_size_by_model[model]) for i in range(task.fan_out)]
        else:
            inputs = [tuple(int(t) % vocab_size_by_model[model] for t in tokens)] * task.fan_out
        start_s = clock()
        results = await asyncio.gather(*(serve_task(model, x, deadline_s, arrival_s) for x in inputs))
        return start_s, list(results)

    def launch_ready() -> None:
        busy = {t.name for t in running.values()}
        for task in app.tasks:
            if task.name not in outputs and task.name not in busy and all(p in outputs for p in task.parents):
                running[asyncio.ensure_future(run_task(task))] = task

    launch_ready()
    failure = None
    while running and failure is None:
        done, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
        now = clock()
        for fut in sorted(done, key=lambda f: app.task_names.index(running[f].name)):
            task = running.pop(fut)
            start_s, results = fut.result()
            model = served.model_by_task[task.name]
            timing[task.name] = {
                "model": model, "start": ms(start_s), "end": ms(now),
                "deadline": round(served.deadline_offset_s_by_task[task.name] * scale * 1e3, 3),
                "invocations": [{"group": r.get("group"), **r.get("timing_ms", {})} for r in results],
            }
            bad = [(i, r) for i, r in enumerate(results) if r.get("outcome") != "ok"]
            if bad and failure is None:
                i, r = bad[0]
                failure = {
                    "outcome": r.get("outcome", "failed"), "reason": r.get("reason", "task_failed"),
                    "failed_task": task.name, "model": model, "invocation": i,
                    "error": f"application {app.name!r} task {task.name!r} (model {model!r}, invocation "
                             f"{i + 1} of {task.fan_out}) was {r.get('outcome')}: {r.get('error', 'no detail')}",
                }
            outputs[task.name] = [r.get("output") for r in results]
        if failure is None:
            launch_ready()
    for fut in running:  # a failed task ends the request: stop waiting for the rest
        fut.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
    end_s = clock()
    total = {"total": ms(end_s), "slo": round(total_slo_s * 1e3, 3), "tasks": timing}
    if failure is not None:
        return {**failure, "app": app.name, "timing_ms": total}
    sinks = app.sinks
    return {
        "outcome": "ok", "app": app.name, "slo_met": end_s - arrival_s <= total_slo_s + 1e-9,
        "output": {s: outputs[s] for s in sinks}, "timing_ms": total,
    }
