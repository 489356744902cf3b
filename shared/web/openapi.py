"""OpenAPI 3.1 documents and an offline docs page, generated from each function's route table.

The document is built from the same `Route` records and Pydantic models the request pipeline
validates with, so it cannot drift from what the code does. The docs page is Swagger UI, served
from the files the `flask-swagger-ui` wheel ships (no CDN).
"""

from __future__ import annotations

import functools
import html
import os
import re
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from flask import Request, Response
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Response as BaseResponse

if TYPE_CHECKING:
    from shared.web.api import Api, Route

_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
_CONVERTERS = {
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
}
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    304: "Not modified (If-None-Match matched)",
    400: "Malformed JSON, wrong content type, bad header or a cursor this list did not give out",
    401: "Missing, invalid or expired credentials",
    403: "Authenticated, but not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag",
    413: "Body over 1 MiB",
    422: "Invalid fields (each one listed in `errors`)",
    429: "Too many requests (see Retry-After)",
    503: "A dependency is down (see Retry-After)",
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. `duplicate_version`."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}},
                "required": ["message"],
            },
        },
    },
    "example": {
        "type": "urn:release-manager:problem:duplicate_version",
        "title": "Conflicts with the current state",
        "status": 409,
        "detail": "checkout 1.4.0 exists already.",
        "code": "duplicate_version",
        "errors": [],
    },
}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}},
    }


def _path(mount: str, rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _CONVERTERS.get(converter or "", {"type": "string"})}
        for converter, name in _PARAMETER.findall(rule)
    ]
    path = _PARAMETER.sub(lambda m: "{" + m.group(2) + "}", rule)
    return (mount + ("" if path == "/" else path)) or "/", parameters


def _schema(
    model: type[pydantic.BaseModel],
    components: dict[str, Any],
    mode: Literal["validation", "serialization"] = "validation",
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": description}


def _statuses(route: Route, has_path_parameters: bool) -> list[int]:
    codes = {route.status, *route.errors}
    if route.body is not None:
        codes |= {400, 413, 422}
    if route.query is not None or has_path_parameters:
        codes |= {422}
    if has_path_parameters:
        codes.add(404)
    if route.lists:
        codes.add(400)  # a cursor that is not one this list gave out
    if route.role is not None:
        codes |= {401, 403}
    if route.idempotent:
        codes |= {400, 422}
    if route.db:
        codes.add(503)
    return sorted(codes)


def _operation(api: Api, route: Route, parameters: list[dict[str, Any]], components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.view.__name__,
        "summary": route.summary,
        "tags": [api.name],
        "parameters": list(parameters),
        "responses": {},
    }
    if route.query is not None:
        operation["parameters"] += _query_parameters(route.query)
    if route.idempotent:
        key = _header("Idempotency-Key", "1..255 printable characters; replays the first response for 24 h.")
        key["schema"] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}
        operation["parameters"].append(key)
    if 412 in route.errors:
        operation["parameters"].append(_header("If-Match", "The ETag last read; a stale one gives 412."))
    if 304 in route.errors:
        operation["parameters"].append(_header("If-None-Match", "An ETag; a match gives 304."))
    if route.body is not None:
        content = {"application/json": {"schema": _schema(route.body, components)}}
        if route.form:
            content["application/x-www-form-urlencoded"] = {
                "schema": {
                    "type": "object",
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                    "required": ["username", "password"],
                }
            }
        operation["requestBody"] = {"required": True, "content": content}
    if route.role is not None:
        operation["security"] = [{"bearer": []}]
        operation["description"] = f"Needs the `{route.role}` role or above."
    for status in sorted({*_statuses(route, bool(parameters)), *route.json_errors}):
        response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "")}
        if status in route.json_errors:
            schema = _schema(route.json_errors[status], components, "serialization")
            response["content"] = {"application/json": {"schema": schema}}
        elif status >= 400:
            response["content"] = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        elif status not in (204, 304):
            item = _schema(route.response, components, "serialization") if route.response else {"type": "object"}
            response["content"] = {"application/json": {"schema": _list_of(item) if route.lists else item}}
        operation["responses"][str(status)] = response
    return operation


def document(api: Api, *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one function."""
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in api.routes:
        if not route.documented:
            continue
        path, parameters = _path("/" + api.name, route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(api, route, parameters, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": version, "description": api.description},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A JWT access token from POST /auth/login, "
                    "or an API token (`rm_...`) from POST /auth/tokens.",
                }
            },
        },
    }


@functools.cache
def assets_dir() -> str:
    import flask_swagger_ui

    return os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")


def docs_page(request: Request, title: str) -> Response:
    """Swagger UI for this function's document, every asset served by the function itself."""
    base = request.script_root + request.path.rstrip("/").removesuffix("/docs")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="stylesheet" href="{base}/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{base}/openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
    )
    return response


def docs_asset(request: Request, asset: str) -> BaseResponse:
    """One of Swagger UI's static files."""
    response = send_from_directory(assets_dir(), asset, request.environ)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
