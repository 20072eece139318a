"""Ray Serve deployments (ingress, controller, mesh groups), installed as ``alpa_serve_like.controllers``."""
