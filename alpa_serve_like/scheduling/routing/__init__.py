"""Routing policies by name (see ``registry``); importing this package registers the built-ins."""
from alpa_serve_like.scheduling.routing import earliest_finish, elsa, last_stage_free, shortest_queue  # noqa: F401  (registration side effect)
from alpa_serve_like.scheduling.routing.registry import (
    DISCIPLINE_ROUTING,
    Candidate,
    RoutingEntry,
    effective_routing,
    RoutingPolicy,
    register_routing,
    resolve_routing,
    routing_names,
)

__all__ = ["DISCIPLINE_ROUTING", "Candidate", "effective_routing", "RoutingEntry", "RoutingPolicy", "register_routing", "resolve_routing", "routing_names"]
