"""Serve's own shedding (``max_queued_requests``) answers 503 with our Retry-After."""
from ray.serve.deployment import Application

from alpa_serve_like.serve import build_app


def bound_deployments(app: Application) -> list:
    """The deployment of ``app`` and of every application bound into its arguments (the
    controller behind a separate ingress). ``_bound_deployment``: Serve has no public getter."""
    found, todo = [], [app]
    while todo:
        deployment = todo.pop()._bound_deployment
        found.append(deployment)
        todo += [a for a in (*deployment.init_args, *deployment.init_kwargs.values()) if isinstance(a, Application)]
    return found


def test_serve_s_own_503_carries_the_configured_retry_after():
    app = build_app({"device": "cpu", "retry_after_s": "3", "max_queued_requests": "4"})
    limited = [d for d in bound_deployments(app) if d.max_queued_requests == 4]
    assert [d.name for d in limited] == ["Controller"]  # the default fused controller is the HTTP replica
    separate = build_app({"device": "cpu", "retry_after_s": "3", "max_queued_requests": "4", "ingress": "separate"})
    limited += [d for d in bound_deployments(separate) if d.max_queued_requests == 4]
    assert sorted(d.name for d in limited) == ["Controller", "Controller", "Ingress"]
    for deployment in limited:
        assert deployment.backpressure_config.status_code == 503
        assert deployment.backpressure_config.retry_after_s == 3


def test_the_controller_keeps_a_slot_for_each_ingress_replicas_vigil():
    app = build_app({"device": "cpu", "max_ongoing_requests": "1", "ingress": "separate", "ingress_replicas": "2"})
    ongoing = {d.name: d.max_ongoing_requests for d in bound_deployments(app)}
    assert ongoing == {"Ingress": 1, "Controller": 3}  # 1 for requests + 1 vigil per ingress replica
