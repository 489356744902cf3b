"""OpenAPI 3.1 documents, generated from each function's route table.

The document is built from the same `Route` records and Pydantic models the request pipeline
validates with, so it cannot drift from what the code does.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Literal

import pydantic

if TYPE_CHECKING:
    from collections.abc import Iterable

    from shared.web.routes import Route

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
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                    "deployment_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "`deployment_in_progress`: the deployment under way.",
                    },
                    "release_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "`deployment_in_progress`: its release.",
                    },
                },
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


# Response headers, declared once and referenced by each response that carries them.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (echoed when the request sent a valid one); the request's log lines carry it.",
        "schema": {"type": "string", "maxLength": 128},
        "required": True,
    },
    "ETag": {
        "description": "The resource's current version: send it back in If-Match (mutations) or If-None-Match (reads).",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the created resource can be read (GET).",
        "schema": {"type": "string", "format": "uri-reference"},
        "required": True,
    },
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 0}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Link": {
        "description": 'The next page, `<url>; rel="next"` (absent on the last page).',
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {"description": "The authentication scheme: `Bearer`.", "schema": {"type": "string"}},
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A JWT access token from POST /auth/login, or an API token (`rm_...`) from POST /auth/tokens.",
    },
    "oauth2": {
        "type": "oauth2",
        "description": "The OAuth2 password flow: POST /auth/login also takes the form "
        "`grant_type=password&username=...&password=...` (application/x-www-form-urlencoded), "
        "as OAuth2 tools and the docs page's Authorize button send it; the access token it answers is a bearer token.",
        "flows": {"password": {"tokenUrl": "/auth/login", "scopes": {}}},
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


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_allows_null(option) for option in (*schema.get("anyOf", ()), *schema.get("oneOf", ())))


def _without_impossible_defaults(node: Any) -> Any:
    """Drop `"default": null` where the schema refuses null (a field that may be left out, never sent
    as null): the default describes the server's side, and a validator reads it as an invalid instance."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None and not _allows_null(node):
            del node["default"]
        for value in node.values():
            _without_impossible_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _without_impossible_defaults(value)
    return node


def _schema(
    model: type[pydantic.BaseModel],
    components: dict[str, Any],
    mode: Literal["validation", "serialization"] = "validation",
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    _without_impossible_defaults(schema)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is present or absent, never null: `anyOf [X, null]` becomes X."""
    options = [option for option in prop.get("anyOf", ()) if option.get("type") != "null"]
    if len(options) == 1:
        prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
    if prop.get("default", "") is None:
        del prop["default"]
    return prop


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": _query_schema(prop)}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": description}


def _single_resource(route: Route) -> bool:
    """Answers one resource with an `id`: the answer carries an ETag (and a GET honours If-None-Match)."""
    return route.response is not None and "id" in route.response.model_fields and not route.lists


def _statuses(route: Route, has_path_parameters: bool) -> list[int]:
    codes = {route.status, *route.also_answers}
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
    if route.method == "GET" and _single_resource(route):
        codes.add(304)
    return sorted(codes)


def _plain(text: str) -> str:
    """A summary is plain text (unlike a description, it is not Markdown)."""
    return text.replace("`", "")


def _response_headers(route: Route, status: int) -> dict[str, Any]:
    names = ["X-Request-ID"]
    if (status in (200, 201) and _single_resource(route)) or status == 304:
        names.append("ETag")
    if status == route.status == 201 and route.location:
        names.append("Location")
    if status == route.status and route.idempotent:
        names.append("Idempotent-Replayed")
    if status == route.status and route.lists:
        names.append("Link")
    if status in (429, 503):
        names.append("Retry-After")
    if status == 401:
        names.append("WWW-Authenticate")
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _operation(tag: str, route: Route, parameters: list[dict[str, Any]], components: dict[str, Any]) -> dict[str, Any]:
    described = (route.view.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": route.view.__name__,
        "summary": _plain(route.summary),
        "tags": [tag],
        "parameters": list(parameters),
        "responses": {},
    }
    if route.query is not None:
        operation["parameters"] += _query_parameters(route.query)
    if route.idempotent:
        key = _header("Idempotency-Key", "1..255 printable characters; replays the first response for 24 h.")
        key["schema"] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}
        operation["parameters"].append(key)
    if 412 in route.also_answers:
        operation["parameters"].append(_header("If-Match", "The ETag last read; a stale one gives 412."))
    statuses = sorted({*_statuses(route, bool(parameters)), *route.json_errors})
    if 304 in statuses:
        operation["parameters"].append(_header("If-None-Match", "An ETag; a match gives 304."))
    if route.body is not None:
        content = {"application/json": {"schema": _schema(route.body, components)}}
        operation["requestBody"] = {"required": True, "content": content}
    if route.form:
        described += (
            "\n\nAlso takes the OAuth2 password form (`application/x-www-form-urlencoded`: `grant_type=password`, "
            "`username`, `password`): see the `oauth2` security scheme."
        )
    if route.role is not None:
        operation["security"] = [{"bearer": []}, {"oauth2": []}]
        described += f"\n\nNeeds the `{route.role}` role or above."
    else:
        operation["security"] = []
    operation["description"] = described.strip()
    for status in statuses:
        response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "")}
        headers = _response_headers(route, status)
        if headers:
            response["headers"] = headers
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


CONVENTIONS = """JSON in and out, UTF-8; timestamps are RFC 3339 in UTC; ids are UUIDs.

- **Authentication**: `Authorization: Bearer <token>`, a JWT access token from `POST /auth/login` or an
  API token (`rm_...`) from `POST /auth/tokens`. Roles, each including the ones before it: `viewer`,
  `developer`, `release_manager`, `admin`.
- **Errors** are RFC 9457 `application/problem+json` with a stable machine-readable `code` and, for
  invalid fields or failed gates, one entry per problem in `errors`.
- **Lists** take `limit` (1..100, default 20) and `cursor`, and answer `{items, next_cursor}` with a
  `Link: <...>; rel="next"` header.
- **Retries**: a creating `POST` takes `Idempotency-Key`; the same key and body replay the first answer for 24 h.
- **Versions**: single resources carry an `ETag`; `If-None-Match` gives 304, a stale `If-Match` gives 412.
- Every response carries `X-Request-ID`."""


def document(routes: Iterable[Route], *, name: str, title: str, version: str, description: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of one function (`name`, mounted at `/name`) from its route records."""
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}  # every function answers problems (404, 405, ...)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not route.documented:
            continue
        path, parameters = _path("/" + name, route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(name, route, parameters, components)
    used = json.dumps(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (description + "\n\n" + CONVENTIONS).strip(),
        },
        "servers": [{"url": "/", "description": "The origin serving this document"}],
        "tags": [{"name": name, "description": title}],
        "paths": paths,
        "components": {
            "schemas": components,
            "headers": {name: header for name, header in HEADERS.items() if f'"#/components/headers/{name}"' in used},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
