"""A function's HTTP API: its route table (`shared.web.routes`) and the one dispatch path.

A function's `main.py` builds an `Api`, declares its routes with the decorators, and hands every
request to it from its `@functions_framework.http` entry point. The dispatch does, in order:
request id and trace, CORS preflight, routing (below the function's mount point, so
`/releases/abc` and `/abc` are the same route), authentication, query and body validation, the
view, then response headers and one access-log line. Every failure leaves through
`shared.web.problems`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import flask
import pydantic
import pydantic_core
from flask import Request, Response
from werkzeug import exceptions as http
from werkzeug.wrappers import Response as BaseResponse

from shared import errors, etags
from shared.platform.cache import Found, Prefetched, get_cache
from shared.platform.logs import configure_logging, request_id_var, trace_var
from shared.platform.settings import get_settings
from shared.web import docs, headers, openapi, problems
from shared.web.calls import Call, Reply
from shared.web.inputs import InvalidInput, validated_body, validated_query
from shared.web.routes import BODY, QUERY, CacheKey, Route, RouteTable

if TYPE_CHECKING:
    from shared.auth.principal import Principal


class Authenticator(Protocol):
    """The caller with the cache entries read together with their state (for the unit of work);
    `oidc_bearer`: the setting naming the service account whose own OIDC token the route takes as the
    bearer (`Route.oidc_bearer`)."""

    def __call__(
        self, request: Request, required_role: str, prefetch: Sequence[CacheKey], *, oidc_bearer: str | None = None
    ) -> tuple[Principal, Mapping[CacheKey, Found]]: ...


# A percent-escape, an empty segment, or a `.` or `..` segment.
_NON_CANONICAL = re.compile(r"%|//|/\.\.?(?:/|$)")


class Api(RouteTable):
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
        super().__init__()
        # From the raw environment: settings may resolve secrets, and import time stays offline.
        configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
        self.name = name
        self.title = title
        self.description = description
        self.authenticator = authenticator
        self.no_store = no_store
        self._document: bytes | None = None
        self.get("/openapi.json", db=False, documented=False)(self._openapi)
        self.get("/docs", db=False, documented=False)(self._docs)
        self.get("/docs/<path:asset>", db=False, documented=False)(self._docs_asset)

    def _openapi(self, call: Call) -> Response:
        """This function's OpenAPI 3.1 document (built once per instance)."""
        if self._document is None:
            document = openapi.document(
                self.routes,
                name=self.name,
                title=self.title,
                description=self.description,
                version=get_settings().app_version,
            )
            self._document = pydantic_core.to_json(document)
        return Response(self._document, mimetype="application/json")

    def _docs(self, call: Call) -> Response:
        return docs.docs_page(call.request, self.title)

    def _docs_asset(self, call: Call, asset: str) -> BaseResponse:
        return docs.docs_asset(call.request, asset)

    # -- handling a request -----------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        """Answer one request; never raises."""
        return self._answer(request, lambda request_id: self._respond(request, request_id))

    def framework_error(self, error: http.HTTPException) -> Response:
        """A request functions-framework's own router refused (say, a path with a newline), as a problem."""
        return self._answer(flask.request, lambda _: problems.from_http_exception(error))

    def _answer(self, request: Request, produce: Callable[[str], Response]) -> Response:
        started = time.perf_counter()
        request_id = headers.request_id(request)
        id_token = request_id_var.set(request_id)
        trace_token = trace_var.set(headers.trace(request))
        try:
            response = produce(request_id)
            response.headers["X-Request-ID"] = request_id
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            if self.no_store:
                response.headers["Cache-Control"] = "no-store"
            headers.add_cors(request, response)
            headers.access_log(request, response, started)
            return response
        finally:
            request_id_var.reset(id_token)
            trace_var.reset(trace_token)

    def _respond(self, request: Request, request_id: str) -> Response:
        route: Route | None = None
        try:
            if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
                return headers.preflight(request)
            if not self._is_canonical(headers.sent_path(request)):
                raise http.NotFound()
            path = self.local_path(request.path)
            if request.method == "OPTIONS":
                allowed = self.allowed_methods(path)
                if not allowed:
                    raise http.NotFound()
                return Response(status=204, headers={"Allow": ", ".join(sorted({*allowed, "OPTIONS"}))})
            route, arguments = self.match(path, request.method)
            response = self._run(request, request_id, route, arguments)
        except errors.DomainError as error:
            response = problems.from_domain_error(error)
        except InvalidInput as invalid:
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

    def _run(self, request: Request, request_id: str, route: Route, arguments: dict[str, Any]) -> Response:
        """Authenticate, validate the inputs, then run the view (in a unit of work when it uses the database)."""
        call = Call(request=request, request_id=request_id, mount="/" + self.name)
        prefetched: Mapping[CacheKey, Found] = {}
        if route.role is not None:
            if self.authenticator is None:
                raise RuntimeError(f"route {route.path} needs a role but {self.name} has no authenticator")
            prefetch = route.prefetch(arguments) if route.prefetch is not None else []
            call.caller, prefetched = self.authenticator(request, route.role, prefetch, oidc_bearer=route.oidc_bearer)
        if route.query is not None:
            arguments[QUERY] = validated_query(route.query, request)
        body: pydantic.BaseModel | None = None
        if route.body is not None:
            body = arguments[BODY] = validated_body(route.body, request, allow_form=route.form)
        if not route.db:
            return self._reply(request, route, route.view(call, **arguments))
        return self._in_unit_of_work(call, route, arguments, body, prefetched)

    def _in_unit_of_work(
        self,
        call: Call,
        route: Route,
        arguments: Mapping[str, Any],
        body: pydantic.BaseModel | None,
        prefetched: Mapping[CacheKey, Found],
    ) -> Response:
        """Run the view in one transaction; a creating POST with Idempotency-Key joins it."""
        # Imported on the first request that needs them: a unit of work loads SQLAlchemy only when
        # it touches the database (a cache hit never does), idempotency only with its header.
        from shared.platform.work import unit_of_work

        key = call.request.headers.get("Idempotency-Key") if route.idempotent else None
        with unit_of_work(cache=Prefetched(get_cache(), dict(prefetched)) if prefetched else None) as work:
            call.unit_of_work = work
            if key is not None:
                from shared import idempotency

                caller = (
                    str(call.caller.user_id) if call.caller else "anonymous:" + headers.client_address(call.request)
                )
                sent = pydantic_core.to_json(body.model_dump(mode="json")) if body is not None else b""
                request_fingerprint = idempotency.fingerprint(route.method, self.local_path(call.request.path), sent)
                stored = idempotency.claim(
                    work, caller=caller, key=idempotency.validate_key(key), request_fingerprint=request_fingerprint
                )
                if stored is not None:
                    return stored
            response = self._reply(call.request, route, route.view(call, **arguments))
            if key is not None and response.status_code < 300:
                idempotency.remember(work, caller=caller, key=key, response=response, withhold=route.secret_fields)
            return response

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
        if status == 204:
            response = Response(status=204)
        else:
            # Once, for the body and its tag; timestamps come out as RFC 3339 UTC, UUIDs as strings.
            payload = pydantic_core.to_json(reply.body)
            if reply.etag is None and isinstance(reply.body, dict) and "id" in reply.body and status in (200, 201):
                reply.etag = etags.tag(payload)  # every single resource carries its validator
            response = Response(payload, status=status, mimetype="application/json")
        response.headers.update(reply.headers)
        if reply.etag is not None:
            response.set_etag(reply.etag)
            if request.method in ("GET", "HEAD") and _conditional(request):
                response.make_conditional(request)
                # make_conditional adds a Date; the server (gunicorn, Werkzeug's) always sends its own.
                response.headers.remove("Date")
        return response


def _conditional(request: Request) -> bool:
    """Whether a GET may answer 304 (or 412): only If-None-Match and If-Match can change it, as we
    send no Last-Modified and serve no ranges; most GETs send neither, and skip Werkzeug's work."""
    return "HTTP_IF_NONE_MATCH" in request.environ or "HTTP_IF_MATCH" in request.environ
