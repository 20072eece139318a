"""The hot route, ``POST /v1/models/{name}/infer``, served past FastAPI's routing and dependencies
(both front ends: the fused ``ServingController`` and the separate ``Ingress``).

For every request FastAPI walks its route table, solves the endpoint's dependencies (Serve's
class-based view looks the replica's instance up each time) and opens an exit stack: on this
machine more CPU per request than the fused controller behind it
(``benchmarks/bench_controller_path.py``).
``InferFastPath`` is an ASGI middleware of the app (``app.add_middleware``): it sits inside FastAPI's
error, exception-telemetry and body-limit middleware, so those still see every request; it hands
this one route straight to its handler and every other request on to the app, which still
documents the route (``/openapi.json``) and answers its other methods (405). The match is
Starlette's: the route's compiled path pattern on the path below ``root_path``.
Each front end's ``_infer(name, request)`` is the handler, its route's endpoint calls the same one.
``tests/unit/test_infer_fast_path.py`` checks that both ways answer alike.
"""
from typing import Awaitable, Callable, Optional

from ray import serve
from ray.serve.exceptions import RayServeException
try:  # the path Starlette's router matches routes against (a private helper: kept if it moves)
    from starlette._utils import get_route_path
except ImportError:  # pragma: no cover - other Starlette versions
    def get_route_path(scope) -> str:
        """The request path below ``root_path``, as Starlette's router takes it."""
        path, root = scope["path"], scope.get("root_path", "")
        if not root or not path.startswith(root):
            return path
        if path == root:
            return ""
        return path[len(root):] if path[len(root)] == "/" else path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

INFER_PATH = "/v1/models/{name}/infer"
_INFER_REGEX, _, _INFER_CONVERTORS = compile_path(INFER_PATH)

InferHandler = Callable[[str, Request], Awaitable[Response]]


def infer_model_name(scope: Scope) -> Optional[str]:
    """The ``{name}`` of a ``POST`` to ``INFER_PATH``; None for any other request."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    match = _INFER_REGEX.match(get_route_path(scope))
    return None if match is None else _INFER_CONVERTORS["name"].convert(match["name"])


def replica_infer_handler() -> Optional[InferHandler]:
    """The ``_infer`` of the instance this Serve replica runs (what Serve's class-based view binds the
    route to); None outside a replica, and FastAPI then routes the request as any other."""
    try:
        servable = serve.get_replica_context().servable_object
    except RayServeException:
        return None
    return getattr(servable, "_infer", None)


class InferFastPath:
    """ASGI middleware: ``POST INFER_PATH`` goes to the handler ``find_handler()`` returns (the
    route's own, bound to the serving instance), everything else, and every request while it
    returns None, to the app."""

    def __init__(self, app: ASGIApp, find_handler: Callable[[], Optional[InferHandler]]):
        self.app = app
        self.find_handler = find_handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = infer_model_name(scope)
        handler = None if name is None else self.find_handler()
        if handler is None:
            await self.app(scope, receive, send)
            return
        response = await handler(name, Request(scope, receive))
        await response(scope, receive, send)
