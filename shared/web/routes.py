"""The route table: one `Route` record per operation, declared with `@api.get(...)` and friends.

A view states its inputs as typed parameters, and the route reads them from its signature once,
at registration: `body: SomeModel` is the request body, `query: SomeModel` the query string, and
every other parameter after `call` is a path parameter of the rule, by name. So the type checker
follows the request from the HTTP edge to the service.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

import pydantic
from werkzeug.routing import BaseConverter, Map, Rule

View = Callable[..., Any]
ViewT = TypeVar("ViewT", bound=View)
CacheKey = tuple[str, str]
# Parameter names a view may take besides the rule's path parameters.
CALL, BODY, QUERY = "call", "body", "query"


class SlugConverter(BaseConverter):
    """A lowercase name such as an application or environment: `[a-z0-9][a-z0-9-]{0,62}`."""

    regex = r"[a-z0-9][a-z0-9-]{0,62}"


class LazyBuildRule(Rule):
    """A Werkzeug rule that compiles its URL builders when a URL is first built from it, not when it
    is added: Werkzeug generates and `compile()`s two builder functions per rule (about 2 ms each),
    90 ms of the auth function's cold start, and a request only ever matches."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, *args, **kwargs)

        return build


@dataclass(frozen=True)
class Route:
    """One operation: what it accepts, who may call it, what it answers."""

    method: str
    path: str
    view: View
    # The view's `body` and `query` parameters' models (read from its signature).
    body: type[pydantic.BaseModel] | None = None
    query: type[pydantic.BaseModel] | None = None
    role: str | None = None
    status: int = 200
    summary: str = ""
    form: bool = False
    db: bool = True
    # Statuses the route may answer besides `status` and those every route of its kind answers
    # (401/403 with a role, 422 with inputs, 503 with the database, ...): 201 beside 200, 409, 412, 429.
    also_answers: tuple[int, ...] = ()
    lists: bool = False
    documented: bool = True
    # A 201 whose answer names the new resource's URL in `Location` (documentation only).
    location: bool = False
    # What a success answers (documentation only), and other statuses that answer JSON, not a problem.
    response: type[pydantic.BaseModel] | None = None
    json_errors: Mapping[int, type[pydantic.BaseModel]] = field(default_factory=dict)
    # Cache entries the view will read, fetched with the caller's state in one round trip.
    prefetch: Callable[[Mapping[str, Any]], list[CacheKey]] | None = None
    # Fields of a created resource shown once (secrets): never stored for an Idempotency-Key replay.
    secret_fields: tuple[str, ...] = ()
    # A service account's own OIDC token (not exchanged) is taken as the bearer here, from the one
    # account this setting names only (`events_dispatcher`: Cloud Scheduler's call; `drift_observer`:
    # Pub/Sub's push), callers that cannot exchange first. None: no OIDC token is taken.
    oidc_bearer: str | None = None

    @property
    def idempotent(self) -> bool:
        """Creating POSTs honour Idempotency-Key."""
        return self.method == "POST" and self.status == 201


class RouteOptions(TypedDict, total=False):
    """The options a route declaration may give (each a field of `Route`)."""

    role: str | None
    status: int
    summary: str
    form: bool
    db: bool
    also_answers: tuple[int, ...]
    lists: bool
    documented: bool
    location: bool
    response: type[pydantic.BaseModel] | None
    json_errors: Mapping[int, type[pydantic.BaseModel]]
    prefetch: Callable[[Mapping[str, Any]], list[CacheKey]] | None
    secret_fields: tuple[str, ...]
    oidc_bearer: str | None


def _model(hints: Mapping[str, Any], name: str, view: View) -> type[pydantic.BaseModel] | None:
    model = hints.get(name)
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise TypeError(f"{view.__qualname__}: `{name}` must be annotated with a Pydantic model, not {model!r}")
    return model


def view_inputs(view: View, path_parameters: set[str]) -> tuple[type[pydantic.BaseModel] | None, ...]:
    """The body and query models a view's signature asks for; refuses a view whose other
    parameters are not exactly the rule's path parameters (a typo would be a 500 at request time)."""
    names = list(inspect.signature(view).parameters)
    if names[:1] != [CALL]:
        raise TypeError(f"{view.__qualname__}: the first parameter must be `call`")
    declared = set(names[1:]) - {BODY, QUERY}
    if declared != path_parameters:
        raise TypeError(
            f"{view.__qualname__}: parameters {sorted(declared)} do not match the path's {sorted(path_parameters)}"
        )
    hints = typing.get_type_hints(view)
    return _model(hints, BODY, view), _model(hints, QUERY, view)


class RouteTable:
    """A function's operations, matched by Werkzeug below the function's mount point."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._map = Map(strict_slashes=True, merge_slashes=False, converters={"slug": SlugConverter})
        self._by_endpoint: dict[str, Route] = {}
        # Bound once: matching re-reads the map (Werkzeug's `update`), so routes added later still count.
        self._adapter = self._map.bind("localhost")

    def route(self, method: str, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        """Register `view` for `method path` (a Werkzeug rule below the function's mount point)."""

        def register(view: ViewT) -> ViewT:
            declared = RouteOptions(**options)
            declared["summary"] = options.get("summary") or (view.__doc__ or "").strip().split("\n")[0]
            endpoint = f"{method} {path}"
            rule = LazyBuildRule(path, endpoint=endpoint, methods=[method])
            self._map.add(rule)
            body, query = view_inputs(view, set(rule.arguments))
            route = Route(method=method, path=path, view=view, body=body, query=query, **declared)
            self._by_endpoint[endpoint] = route
            self.routes.append(route)
            return view

        return register

    def include(self, other: RouteTable) -> None:
        """Serve every route of `other` (a concept's `views.routes`), in the order it declared them."""
        for route in other.routes:
            endpoint = f"{route.method} {route.path}"
            if endpoint in self._by_endpoint:
                raise ValueError(f"{endpoint} is declared twice")
            self._map.add(LazyBuildRule(route.path, endpoint=endpoint, methods=[route.method]))
            self._by_endpoint[endpoint] = route
            self.routes.append(route)

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[ViewT], ViewT]:
        return self.route("DELETE", path, **options)

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route answers at `path` (empty: no route has it)."""
        return list(self._adapter.allowed_methods(path))

    def match(self, path: str, method: str) -> tuple[Route, dict[str, Any]]:
        """The route for `method path` and its path parameters; Werkzeug's 404 or 405 otherwise."""
        endpoint, arguments = self._adapter.match(path, method=method)
        return self._by_endpoint[str(endpoint)], dict(arguments)
