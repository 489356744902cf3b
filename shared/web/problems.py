"""The one place where failures become RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import pydantic
import pydantic_core
from flask import Response
from werkzeug import exceptions as http

from shared import errors
from shared.platform.connections import UNAVAILABLE_SQLSTATES, sqlstate
from shared.platform.settings import ConfigError

log = logging.getLogger(__name__)

PROBLEM_TYPE = "urn:release-manager:problem:"
DATABASE_RETRY_AFTER_S = 5

_STATUS: dict[type[errors.DomainError], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.Invalid: 422,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
    errors.DomainError: 400,
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    items: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response with the fields every error of this API carries."""
    body = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": items or [],
    }
    response = Response(pydantic_core.to_json(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def status_of(error: errors.DomainError) -> int:
    """The HTTP status of a service's error."""
    return next(code for kind, code in _STATUS.items() if isinstance(error, kind))


def from_domain_error(error: errors.DomainError) -> Response:
    """Map a service's error to its status and problem body."""
    status = status_of(error)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="release-manager"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return problem(
        status, error.code, error.title, error.detail, items=[e.as_dict() for e in error.errors], headers=headers
    )


def from_validation_error(error: pydantic.ValidationError, *, where: str = "body") -> Response:
    """422 listing every invalid field by its dotted path."""
    items = []
    for issue in error.errors(include_url=False):
        field = ".".join(str(part) for part in issue["loc"])
        message = "unknown field" if issue["type"] == "extra_forbidden" else issue["msg"].removeprefix("Value error, ")
        if not field and ": " in message:
            # Cross-field rules say which field they are about: "ends_at: must be after starts_at".
            field, message = message.split(": ", 1)
        items.append({"field": field or where, "message": message})
    detail = f"{len(items)} invalid field{'s' if len(items) != 1 else ''} in the {where}: " + ", ".join(
        item["field"] for item in items
    )
    return problem(422, "validation_failed", "Invalid fields", detail, items=items)


def from_http_exception(error: http.HTTPException) -> Response:
    """Werkzeug's routing and body errors (404, 405, 413, ...) as problems."""
    status = error.code or 500
    headers = {}
    if isinstance(error, http.MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request"}
    details = {
        404: "No resource at this path.",
        405: "This path does not accept that method.",
        413: "The request body is larger than 1 MiB.",
    }
    return problem(
        status,
        codes.get(status, "http_error"),
        error.name,
        details.get(status, error.description or error.name),
        headers=headers,
    )


def _sqlalchemy_errors() -> Any:
    """`sqlalchemy.exc` if SQLAlchemy is loaded; if it is not (the health function never loads it),
    no error can be one of its kinds."""
    return sys.modules.get("sqlalchemy.exc")


def is_database_outage(error: Exception) -> bool:
    """Is `error` the database being unreachable (then the answer is 503 with Retry-After)?"""
    exc = _sqlalchemy_errors()
    if exc is not None and isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return True
    if exc is not None and isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or sqlstate(error) in UNAVAILABLE_SQLSTATES
    # pg8000 reports a dropped socket as a plain network error before SQLAlchemy wraps it.
    return isinstance(error, ConnectionError | TimeoutError)


def _log_database_error(error: Any) -> None:
    """A traceback naming the statement and its SQLSTATE, without the database's own message: that
    can quote a value sent with the statement (`invalid input syntax ...: "<value>"`)."""
    kind = f"{type(error).__module__}.{type(error).__name__}"
    trace = "".join(["Traceback (most recent call last):\n", *traceback.format_tb(error.__traceback__)])
    log.error(
        "unhandled database error",
        extra={
            "sqlstate": sqlstate(error),
            "statement": error.statement,
            "stack_trace": f"{trace}{kind}: SQLSTATE {sqlstate(error)}",
        },
    )


def from_unexpected(error: Exception) -> Response:
    """A dependency outage becomes 503; anything else a bare 500. Neither leaks internals."""
    if isinstance(error, ConfigError):
        # One line naming the setting, not a stack trace: the instance can't serve until it is fixed.
        log.error(str(error))
        return problem(503, "misconfigured", "Service misconfigured", "The service is misconfigured; see its logs.")
    if is_database_outage(error):
        log.warning("database unavailable", extra={"error": type(error).__name__})
        return problem(
            503,
            "database_unavailable",
            "A dependency is unavailable",
            "The database cannot be reached; retry shortly.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )
    exc = _sqlalchemy_errors()
    if exc is not None and isinstance(error, exc.DBAPIError):
        _log_database_error(error)
    else:
        log.exception("unhandled error")
    return problem(500, "internal_error", "Internal error", "Something went wrong on our side; it has been logged.")
