"""``/openapi.json`` of both HTTP front ends documents the request and response bodies (no Ray:
the apps' schemas are built without serving them)."""
import pytest


@pytest.fixture(params=["serving_controller", "ingress"])
def openapi(request):
    import importlib

    module = importlib.import_module(f"alpa_serve_like.controllers.{request.param}")
    module.api.openapi_schema = None
    return module.api.openapi()


def _body_schema(spec, path):
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_both_infer_routes_document_request_and_response_bodies(openapi):
    v1 = _body_schema(openapi, "/v1/models/{name}/infer")
    assert set(v1["properties"]) == {"input", "slo_ms"} and v1["required"] == ["input"]
    v2 = _body_schema(openapi, "/v2/models/{name}/infer")
    assert set(v2["properties"]) == {"id", "inputs", "outputs", "parameters"}
    tensor = openapi["components"]["schemas"]["V2InputTensor"]
    assert tensor["properties"]["datatype"]["enum"] == ["INT64", "INT32"]
    ok = openapi["paths"]["/v2/models/{name}/infer"]["post"]["responses"]
    assert ok["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/V2InferResponse")
    for path in ("/v1/models/{name}/infer", "/v2/models/{name}/infer"):
        assert "Retry-After" in openapi["paths"][path]["post"]["responses"]["503"]["headers"]
    schemas = openapi["components"]["schemas"]
    dangling = [ref for ref in _refs(openapi) if ref.rsplit("/", 1)[1] not in schemas]
    assert not dangling


def test_the_v2_health_and_metadata_routes_are_served(openapi):
    for path in ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready"):
        assert "get" in openapi["paths"][path], path


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
