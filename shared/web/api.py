"""The HTTP layer shared by the three functions: a Werkzeug route table and one dispatch path.

A function's `main.py` builds an `Api`, declares its routes with the decorators below, and
hands every request to it from its `@functions_framework.http` entry point. The dispatch does,
in order: request id and trace, CORS preflight, routing (below the function's mount point, so
`/releases/abc` and `/abc` are the same route), authentication, query and body validation, the
view, then response headers and one access-log line. Every failure leaves through
`shared.web.problems`.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import flask
import pydantic
import pydantic_core
from flask import Request, Response
from werkzeug import exceptions as http
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Response as BaseResponse

from shared import errors, etags, idempotency
from shared.cache import Prefetched, get_cache
from shared.db import unit_of_work
from shared.logs import configure_logging, request_id_var, trace_var
from shared.pagination import link_header
from shared.settings import ConfigError, Settings, get_settings
from shared.web import openapi, problems

log = logging.getLogger("shared.web")

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_EXPOSED_HEADERS = "ETag, Location, Link, X-Request-ID, Retry-After"
# A percent-escape, an empty segment, or a `.` or `..` segment.
_NON_CANONICAL = re.compile(r"%|//|/\.\.?(?:/|$)")

View = Callable[..., Any]
Authenticator = Callable[[Request, str, list[tuple[str, str]]], Any]


class SlugConverter(BaseConverter):
    """A lowercase name such as an application or environment: `[a-z0-9][a-z0-9-]{0,62}`."""

    regex = r"[a-z0-9][a-z0-9-]{0,62}"


@dataclass(frozen=True)
class Route:
    """One operation: what it accepts, who may call it, what it answers."""

    method: str
    path: str
    view: View
    body: type[pydantic.BaseModel] | None = None
    query: type[pydantic.BaseModel] | None = None
    role: str | None = None
    status: int = 200
    summary: str = ""
    form: bool = False
    db: bool = True
    errors: tuple[int, ...] = ()
    lists: bool = False
    documented: bool = True
    # A 201 whose answer names the new resource's URL in `Location` (documentation only).
    location: bool = False
    # What a success answers (documentation only), and other statuses that answer JSON, not a problem.
    response: type[pydantic.BaseModel] | None = None
    json_errors: Mapping[int, type[pydantic.BaseModel]] = field(default_factory=dict)
    # Cache entries the view will read, fetched with the caller's state in one round trip.
    prefetch: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None
    # Fields of a created resource shown once (secrets): never stored for an Idempotency-Key replay.
    secret_fields: tuple[str, ...] = ()

    @property
    def idempotent(self) -> bool:
        """Creating POSTs honour Idempotency-Key."""
        return self.method == "POST" and self.status == 201


@dataclass
class Call:
    """What a view gets: the request, its id, the caller, the validated inputs, a unit of work."""

    request: Request
    request_id: str
    principal: Any = None
    body: Any = None
    query: Any = None
    work: Any = None


@dataclass
class Reply:
    """A view's answer when it needs more than a JSON body with the route's status."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None


class Api:
    """A function's route table and request pipeline."""

    def __init__(
        self,
        name: str,
        *,
        title: str,
        authenticator: Authenticator | None = None,
        no_store: bool = False,
        description: str = "",
    ) -> None:
        # From the raw environment: settings may resolve secrets, and import time stays offline.
        configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
        self.name = name
        self.title = title
        self.description = description
        self.authenticator = authenticator
        self.no_store = no_store
        self.routes: list[Route] = []
        self._map = Map(strict_slashes=True, merge_slashes=False, converters={"slug": SlugConverter})
        self._views: dict[str, Route] = {}
        self._document: bytes | None = None
        self.get("/openapi.json", db=False, documented=False)(self._openapi)
        self.get("/docs", db=False, documented=False)(self._docs)
        self.get("/docs/<path:asset>", db=False, documented=False)(self._docs_asset)

    def _openapi(self, call: Call) -> Response:
        """This function's OpenAPI 3.1 document (built once per instance)."""
        if self._document is None:
            self._document = pydantic_core.to_json(openapi.document(self, version=get_settings().app_version))
        return Response(self._document, mimetype="application/json")

    def _docs(self, call: Call) -> Response:
        return openapi.docs_page(call.request, self.title)

    def _docs_asset(self, call: Call, asset: str) -> BaseResponse:
        return openapi.docs_asset(call.request, asset)

    # -- declaring routes -------------------------------------------------------------------

    def route(self, method: str, path: str, **options: Any) -> Callable[[View], View]:
        """Register `view` for `method path` (a Werkzeug rule below the function's mount point)."""

        def register(view: View) -> View:
            summary = options.pop("summary", None) or (view.__doc__ or "").strip().split("\n")[0]
            route = Route(method=method, path=path, view=view, summary=summary, **options)
            endpoint = f"{method} {path}"
            self._map.add(Rule(path, endpoint=endpoint, methods=[method]))
            self._views[endpoint] = route
            self.routes.append(route)
            return view

        return register

    def get(self, path: str, **options: Any) -> Callable[[View], View]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[View], View]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[View], View]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[View], View]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[View], View]:
        return self.route("DELETE", path, **options)

    # -- handling a request -----------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        """Answer one request; never raises."""
        return self._answer(request, lambda request_id: self._respond(request, request_id))

    def framework_error(self, error: http.HTTPException) -> Response:
        """A request functions-framework's own router refused (say, a path with a newline), as a problem."""
        return self._answer(flask.request, lambda _: problems.from_http_exception(error))

    def _answer(self, request: Request, produce: Callable[[str], Response]) -> Response:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        id_token = request_id_var.set(request_id)
        trace_token = trace_var.set(_trace(request))
        try:
            response = produce(request_id)
            response.headers["X-Request-ID"] = request_id
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            if self.no_store:
                response.headers["Cache-Control"] = "no-store"
            self._add_cors(request, response)
            _access_log(request, response, started)
            return response
        finally:
            request_id_var.reset(id_token)
            trace_var.reset(trace_token)

    def _respond(self, request: Request, request_id: str) -> Response:
        route: Route | None = None
        try:
            if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
                return self._preflight(request)
            if not self._is_canonical(sent_path(request)):
                raise http.NotFound()
            adapter = self._map.bind("localhost")
            path = self.local_path(request.path)
            if request.method == "OPTIONS":
                allowed = adapter.allowed_methods(path)
                if not allowed:
                    raise http.NotFound()
                return Response(status=204, headers={"Allow": ", ".join(sorted({*allowed, "OPTIONS"}))})
            endpoint, arguments = adapter.match(path, method=request.method)
            route = self._views[str(endpoint)]
            response = self._run(request, request_id, route, arguments)
        except errors.DomainError as error:
            response = problems.from_domain_error(error)
        except _InvalidInput as invalid:
            response = problems.from_validation_error(invalid.error, where=invalid.where)
        except http.HTTPException as error:
            response = problems.from_http_exception(error)
        except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
            response = problems.from_unexpected(error)
        if route is not None and route.role is not None and "Cache-Control" not in response.headers:
            # The answer depends on who asks: no shared cache (a proxy, a CDN) may keep or serve it.
            response.headers["Cache-Control"] = "private, no-store"
        return response

    def _is_canonical(self, path: str) -> bool:
        """Whether `path` is the one spelling of a resource: no percent-escapes, empty or dot
        segments, or trailing slash. A rule keyed on an exact path (Cloud Armor's rate limit on
        `/auth/login`) must not be sidestepped by `/auth/login/`, `//auth/login` or `/auth/%6cogin`."""
        if path in ("/", f"/{self.name}/"):  # the function's root, with or without its mount point
            return True
        return not path.endswith("/") and _NON_CANONICAL.search(path) is None

    def _run(self, request: Request, request_id: str, route: Route, arguments: Mapping[str, Any]) -> Response:
        """Authenticate, validate the inputs, then run the view (in a unit of work when it uses the database)."""
        call = Call(request=request, request_id=request_id)
        if route.role is not None:
            if self.authenticator is None:
                raise RuntimeError(f"route {route.path} needs a role but {self.name} has no authenticator")
            prefetch = route.prefetch(arguments) if route.prefetch is not None else []
            call.principal = self.authenticator(request, route.role, prefetch)
        if route.query is not None:
            call.query = _validated(route.query, _query_arguments(request), where="query")
        if route.body is not None:
            call.body = _validated(route.body, _body(request, allow_form=route.form), where="body")
        if not route.db:
            return self._reply(request, route, route.view(call, **arguments))
        return self._in_unit_of_work(call, route, arguments)

    def _in_unit_of_work(self, call: Call, route: Route, arguments: Mapping[str, Any]) -> Response:
        """Run the view in one transaction; a creating POST with Idempotency-Key joins it."""
        key = call.request.headers.get("Idempotency-Key") if route.idempotent else None
        prefetched = getattr(call.principal, "prefetched", None)
        with unit_of_work(cache=Prefetched(get_cache(), prefetched) if prefetched else None) as work:
            call.work = work
            if key is not None:
                caller = str(call.principal.user_id) if call.principal else "anonymous:" + client_address(call.request)
                body = pydantic_core.to_json(call.body.model_dump(mode="json")) if call.body is not None else b""
                request_fingerprint = idempotency.fingerprint(route.method, self.local_path(call.request.path), body)
                stored = idempotency.claim(
                    work, caller=caller, key=idempotency.validate_key(key), request_fingerprint=request_fingerprint
                )
                if stored is not None:
                    return stored
            response = self._reply(call.request, route, route.view(call, **arguments))
            if key is not None and response.status_code < 300:
                idempotency.remember(work, caller=caller, key=key, response=response, withhold=route.secret_fields)
            return response

    def location(self, request: Request, local_path: str) -> str:
        """The path a client GETs for `local_path` of this function, however the request reached it:
        mounted by `make dev` (`/releases` is the script root), behind the load balancer (the path
        keeps `/releases`), or at a URL that is the function's own root."""
        mount = "/" + self.name
        kept = request.path == mount or request.path.startswith(mount + "/")
        return request.script_root + (mount if kept else "") + local_path

    def local_path(self, path: str) -> str:
        """The path below this function's mount point (`/releases/x` and `/x` both give `/x`)."""
        mount = "/" + self.name
        if path == mount or path.startswith(mount + "/"):
            path = path[len(mount) :]
        return path or "/"

    def _reply(self, request: Request, route: Route, result: Any) -> Response:
        if isinstance(result, BaseResponse):
            return result  # type: ignore[return-value]
        reply = result if isinstance(result, Reply) else Reply(body=result)
        status = reply.status or route.status
        if reply.etag is None and isinstance(reply.body, dict) and "id" in reply.body and status in (200, 201):
            reply.etag = etags.etag(reply.body)  # every single resource carries its validator
        response = Response(status=204) if status == 204 else json_response(reply.body, status=status)
        response.headers.update(reply.headers)
        if reply.etag is not None:
            response.set_etag(reply.etag)
            if request.method in ("GET", "HEAD"):
                response.make_conditional(request)
                # make_conditional adds a Date; the server (gunicorn, Werkzeug's) always sends its own.
                response.headers.remove("Date")
        return response

    def _preflight(self, request: Request) -> Response:
        origin = request.headers.get("Origin", "")
        if origin not in _allowed_origins():
            return problems.problem(403, "cors_origin_not_allowed", "Not allowed", "This origin may not call the API.")
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match"
        )
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    def _add_cors(self, request: Request, response: Response) -> None:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if origin and origin in _allowed_origins():
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS


# -- helpers --------------------------------------------------------------------------------


def json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; timestamps come out as RFC 3339 UTC, UUIDs as strings."""
    response = Response(pydantic_core.to_json(body), status=status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def listing(call: Call, items: list[Any], next_cursor: str | None) -> Reply:
    """A list page: `{items, next_cursor}` and a `Link: rel="next"` header."""
    headers = link_header(call.request.base_url, call.request.args.to_dict(), next_cursor)
    return Reply(body={"items": items, "next_cursor": next_cursor}, headers=headers)


def sent_path(request: Request) -> str:
    """The path as the client sent it, before any decoding or mounting: the whole `/health` under
    the dev server (which hands the function `/`), `%6c` still escaped, `//` still doubled."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.script_root + request.path
    if not raw.startswith("/"):
        raw = urlsplit(raw).path or "/"  # the absolute form a proxy may send: http://host/path
    return str(raw).split("?", 1)[0]


def _settings_if_valid() -> Settings | None:
    """For the headers and log fields around every answer: a misconfigured instance still answers
    (503 from the pipeline), so these must not fail too."""
    try:
        return get_settings()
    except ConfigError:
        return None


def _allowed_origins() -> list[str]:
    settings = _settings_if_valid()
    return settings.cors_origins if settings is not None else []


def if_match(request: Request) -> Callable[[str], bool] | None:
    """A test for the current ETag when the request sent If-Match, else None."""
    header = request.if_match
    return header.contains if header else None


def client_address(request: Request) -> str:
    """The caller's address. Behind Google's load balancer the client is the second-last hop."""
    if get_settings().trust_forwarded_for:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= 2:
            return hops[-2]
    return request.remote_addr or "unknown"


class _InvalidInput(Exception):
    def __init__(self, error: pydantic.ValidationError, where: str) -> None:
        self.error, self.where = error, where


def _nul_characters(data: Any, path: str = "") -> list[str]:
    """Fields whose text holds U+0000, which PostgreSQL text cannot store."""
    if isinstance(data, str):
        return [path] if "\x00" in data else []
    if isinstance(data, dict):
        return [f for key, value in data.items() for f in _nul_characters(value, f"{path}.{key}".lstrip("."))]
    if isinstance(data, list):
        return [f for i, value in enumerate(data) for f in _nul_characters(value, f"{path}.{i}".lstrip("."))]
    return []


def _validated(model: type[pydantic.BaseModel], data: Any, *, where: str) -> pydantic.BaseModel:
    if fields := _nul_characters(data):
        raise errors.Invalid(
            f"Text may not contain NUL characters ({', '.join(fields)}).",
            errors=[errors.FieldError(field or where, "contains a NUL character") for field in fields],
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise _InvalidInput(error, where) from None


def _query_arguments(request: Request) -> dict[str, str]:
    """The query's parameters; an empty one (`?application=`, as forms and scripts send) counts as absent."""
    return {key: value for key in request.args if (value := request.args[key]) != ""}


def _body(request: Request, *, allow_form: bool) -> Any:
    mimetype = request.mimetype
    form = allow_form and mimetype in _FORM_TYPES
    if not form and mimetype not in _JSON_TYPES and not mimetype.endswith("+json"):
        accepted = "application/json" + (" or a form" if allow_form else "")
        raise errors.BadRequest(
            f"Send the body as {accepted}, not {mimetype or 'nothing'}.", code="unsupported_content_type"
        )
    raw = _raw_body(request)
    if form:
        return request.form.to_dict()  # parsed from the body read above
    try:
        # pydantic-core's parser stops at a nesting depth of 200 with a ValueError, where the
        # standard library's would recurse until RecursionError.
        return pydantic_core.from_json(raw)
    except ValueError as error:
        raise errors.BadRequest(f"The body is not valid JSON: {error}.", code="malformed_json") from None


def _raw_body(request: Request) -> bytes:
    """The body, or 413 when it is over MAX_BODY_BYTES, with or without a Content-Length."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise http.RequestEntityTooLarge()
    # A chunked body has no Content-Length; Werkzeug cuts it at the maximum without a word, so
    # allow one byte more and see whether it came.
    request.max_content_length = MAX_BODY_BYTES + 1
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise http.RequestEntityTooLarge()
    return raw


def _trace(request: Request) -> str | None:
    header = request.headers.get("X-Cloud-Trace-Context", "")
    trace_id = header.split("/", 1)[0]
    if not trace_id:
        parts = request.headers.get("traceparent", "").split("-")
        trace_id = parts[1] if len(parts) == 4 else ""
    settings = _settings_if_valid()
    project = settings.gcp_project_id if settings is not None else None
    if not trace_id or not project:
        return None
    return f"projects/{project}/traces/{trace_id}"


def _access_log(request: Request, response: Response, started: float) -> None:
    latency = time.perf_counter() - started
    path = sent_path(request)
    log.info(
        "%s %s %s",
        request.method,
        path,
        response.status_code,
        extra={
            "httpRequest": {
                "requestMethod": request.method,
                "requestUrl": path,
                "status": response.status_code,
                "latency": f"{latency:.6f}s",
                "userAgent": request.user_agent.string,
                "remoteIp": request.remote_addr,
            }
        },
    )
