"""Compound application routes (``GET /v1/apps``, ``POST /v1/apps/{name}/infer``), a mixin.

``compound_app_routes(api)`` returns a class whose methods are routes of ``api``; the fused
``ServingController`` inherits it and provides ``apps`` (name -> ``compound.executor.ServedApp``,
built by ``served_apps``), ``specs`` (instance name -> ``ModelSpec``), ``core.rng`` (tokens for ``{"length": n}``) and ``_app_serve_task`` (one
model request with a deadline, through the controller's shared routing and admission). The graph
itself runs in ``compound.executor.run_app_request``; status codes are the ``/v1`` ones
(``http_common.result_response``): a request fails with its failed task's outcome.

Body: ``{"input": [token ids] | {"length": n}, "slo_ms": optional}``, the single-model format,
validated against the first root task's model; the roots get those tokens.
"""
import json
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from alpa_serve_like.compound.app_spec import CompoundApp, load_app
from alpa_serve_like.compound.executor import ServedApp, run_app_request, served_app
from alpa_serve_like.controllers.http_common import arrival_time_s, read_limited, result_response
from alpa_serve_like.controllers.openapi_docs import ERROR_RESPONSES
from alpa_serve_like.core.instances import instance_spec
from alpa_serve_like.runtime.requests import HttpError, parse_infer_body


def read_app_entries(arg: str) -> list[dict]:
    """``apps=`` of ``serve run``: comma-separated application files, each optionally
    ``APP.json@PLAN.json`` with a plan from ``alpa-serve-like compound plan --json`` (its variants and
    budgets; else the most accurate hosted variants and an even budget split)."""
    entries = []
    for item in filter(None, (part.strip() for part in arg.split(","))):
        app_path, _, plan_path = item.partition("@")
        entry = {"app": load_app(app_path).to_dict(), "plan": None}
        if plan_path:
            try:
                entry["plan"] = json.loads(Path(plan_path).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"apps=: plan file {plan_path!r} is not readable JSON ({exc}); write it with "
                                 f"'alpa-serve-like compound plan APP.json --json > PLAN.json'") from None
            if entry["plan"].get("app") != entry["app"]["name"]:
                raise ValueError(f"apps=: plan file {plan_path!r} is for application {entry['plan'].get('app')!r}, "
                                 f"not {entry['app']['name']!r}")
        entries.append(entry)
    return entries


def served_apps(entries: list[dict], hosted_models) -> dict[str, ServedApp]:
    """``entries``: ``{"app": <application dict>, "plan": <compound plan dict or None>}`` each (see
    ``alpa_serve_like.serve``); checked here, at start-up, against the placement's models."""
    out = {}
    for entry in entries:
        app = CompoundApp.from_dict(entry["app"], where="apps=")
        plan = entry.get("plan") or {}
        if app.name in out:
            raise ValueError(f"apps=: application {app.name!r} is given twice; give each once")
        out[app.name] = served_app(app, hosted_models, plan.get("variant_by_task"), plan.get("budget_s_by_task"),
                                   base_of=lambda name: instance_spec(name).name)
    return out


def compound_app_routes(api: FastAPI) -> type:
    """A mixin class whose methods serve compound applications on ``api``."""

    class CompoundAppRoutes:
        @api.get("/v1/apps")
        async def http_apps(self) -> JSONResponse:
            return JSONResponse({"apps": [served.to_dict() for served in self.apps.values()]})

        @api.post("/v1/apps/{name}/infer", responses=ERROR_RESPONSES)
        async def http_app_infer(self, name: str, request: Request) -> JSONResponse:
            arrival_s = arrival_time_s(request, time.time())  # every task's deadline counts from here
            max_body_bytes, retry_after_s, body_timeout_s, overloaded = self._v2_limits()
            if overloaded is not None and overloaded():
                return JSONResponse({"error": "the server is overloaded; retry later", "reason": "overloaded"},
                                    status_code=503, headers={"Retry-After": str(int(retry_after_s))})
            served = self.apps.get(name)
            if served is None:
                return JSONResponse({"error": f"application {name[:64]!r} is not served here (known: "
                                              f"{', '.join(self.apps) or 'none; start with apps=...'})",
                                     "known_apps": list(self.apps)}, status_code=404)
            root_model = served.model_by_task[served.app.tasks[0].name]
            try:
                body = await read_limited(request, max_body_bytes, body_timeout_s)
                parsed = parse_infer_body(body, root_model, self.specs[root_model], max_body_bytes)
            except HttpError as err:
                return JSONResponse(err.body(), status_code=err.status)
            models = set(served.model_by_task.values())
            # Every task reads as many tokens as the roots, so the shortest model context bounds it.
            length = min([parsed.length] + [self.specs[m].seq_len for m in models])
            tokens = parsed.tokens[:length] if parsed.tokens else tuple(
                int(t) for t in self.core.rng.integers(0, self.specs[root_model].vocab_size, length))
            vocab = {m: self.specs[m].vocab_size for m in models}
            result = await run_app_request(served, tokens, self._app_serve_task, vocab, arrival_s, time.time,
                                           slo_s=parsed.slo_s)
            return result_response(result, retry_after_s)

    return CompoundAppRoutes
