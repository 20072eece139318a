"""Request-body schemas in ``/openapi.json`` for routes that read their body themselves.

The infer routes read the raw body (to shed load and enforce ``max_body_bytes`` before parsing),
so FastAPI cannot infer their request schema; they point at ``#/components/schemas/<Model>`` in
``openapi_extra`` and ``document_request_bodies`` puts those models (``http_schemas.REQUEST_SCHEMAS``)
into the components.
"""
from fastapi import FastAPI

from alpa_serve_like.runtime.http_schemas import REQUEST_SCHEMAS, ErrorBody

REF_TEMPLATE = "#/components/schemas/{model}"

ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "Malformed body (the message names the problem)."},
    404: {"model": ErrorBody, "description": "Unknown model (the body lists the known ones)."},
    413: {"model": ErrorBody, "description": "Body over max_body_bytes."},
    503: {"model": ErrorBody, "description": "Not admitted (reason: slo, doomed, overloaded, group_failed, "
                                             "group_down, controller_unavailable) or not ready; retry later.",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}},
}
"""``responses=`` of the infer routes (both protocols answer errors alike)."""


def request_body(model: type) -> dict:
    """``openapi_extra`` for a route whose JSON body is ``model``."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}}}}


def document_request_bodies(api: FastAPI, models=REQUEST_SCHEMAS) -> None:
    """Make ``api.openapi()`` include ``models`` (and the models they nest) as components."""
    build = api.openapi

    def openapi() -> dict:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            body = model.model_json_schema(ref_template=REF_TEMPLATE)
            for name, nested in body.pop("$defs", {}).items():
                components.setdefault(name, nested)
            components[model.__name__] = body
        api.openapi_schema = schema
        return schema

    api.openapi = openapi
