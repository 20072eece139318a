"""Ray Serve deployments, installed as ``alpa_serve_like.controllers``.

``Ingress`` (FastAPI HTTP front end, stateless) forwards validated requests to ``Controller`` (one
replica owning the mesh groups, routing, admission and batching). ``alpa_serve_like.serve`` wires
them into an application. The logic they run lives in ``alpa_serve_like.runtime``.
"""
