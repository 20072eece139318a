"""Routing policies by name (see ``registry``); importing this package registers the built-ins."""
from . import earliest_finish, shortest_queue  # noqa: F401  (registration side effect)
from .registry import (
    Candidate,
    RoutingEntry,
    RoutingPolicy,
    register_routing,
    resolve_routing,
    routing_names,
)

__all__ = ["Candidate", "RoutingEntry", "RoutingPolicy", "register_routing", "resolve_routing", "routing_names"]
