"""The console's web application: a Flask app of server-rendered pages (`pages`), its security
headers, the session of whoever is signed in, the CSRF check on every form, and the answer when
something fails (a page with the problem's words, never a traceback).

A function's entry point hands each request to `handle`; the app sees its own paths whether the
request arrives below `/console` (the load balancer, the dev server) or at the function's root."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
import pydantic
from flask import Request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared import errors
from shared.console import session
from shared.platform.settings import ConfigError
from shared.platform.work import unit_of_work
from shared.web import problems

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
log = logging.getLogger("shared.console")

# No inline script or style anywhere: htmx comes from our own origin, and its indicator styles
# are turned off (the htmx-config meta tag), so nothing needs 'unsafe-inline'.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app() -> flask.Flask:
    """The console, ready to serve."""
    from shared.console import insight, pages, release_page, stages  # noqa: F401 - each adds its pages to the blueprint

    app = flask.Flask(
        "shared.console",
        root_path=str(HERE),
        template_folder="templates",
        static_folder="static",
        # Not /static: functions-framework's own Flask app answers that path before the function sees it.
        static_url_path="/assets",
    )
    app.register_blueprint(pages.blueprint)
    app.before_request(_open)
    app.after_request(_secure)
    app.teardown_request(_close)
    app.register_error_handler(errors.DomainError, _domain_error)
    app.register_error_handler(pydantic.ValidationError, _invalid)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _open() -> None:
    """Each request's unit of work and session; a form that changes state must carry the session's
    CSRF token (403 otherwise, before anything is read or written). An asset (CSS, htmx) needs
    neither: it is served without touching the database."""
    if flask.request.endpoint == "static":
        return
    stack = unit_of_work()
    flask.g.work_context = stack
    flask.g.work = stack.__enter__()
    flask.g.session = session.current(flask.g.work, flask.request)
    if flask.request.method == "POST" and not _same_origin(flask.request):
        # The sign-in form too (it carries no token yet): no other site may sign someone in here.
        raise errors.Forbidden("This form was sent from another site.", code="csrf_token_invalid")
    if flask.request.method == "POST" and flask.request.endpoint != "pages.login":
        current = flask.g.session
        sent = flask.request.form.get("csrf") or flask.request.headers.get("X-CSRF-Token")
        if current is None or not current.accepts(sent):
            raise errors.Forbidden(
                "This form is not from this console session; reload the page.", code="csrf_token_invalid"
            )


def _same_origin(request: Request) -> bool:
    """A browser's POST says where it comes from (`Origin`); one from another host is refused. No
    header (an old browser, a script): the CSRF token decides."""
    origin = request.headers.get("Origin")
    # The host as the browser addressed it: the Host header, or the one a proxy forwards (a
    # browser's cross-site form cannot set that header).
    hosts = {host for host in (request.host, request.headers.get("X-Forwarded-Host")) if host}
    return origin is None or urlsplit(origin).netloc in hosts  # `Origin: null` (a sandbox) is refused


def _close(error: BaseException | None) -> None:
    stack = flask.g.pop("work_context", None)
    if stack is not None:
        if error is None:
            stack.__exit__(None, None, None)
        else:
            stack.__exit__(type(error), error, error.__traceback__)


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not flask.request.path.startswith("/assets/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def sent_with_htmx() -> bool:
    """The request is htmx's (a form sent in place): it is answered with a fragment, not a page."""
    return flask.request.headers.get("HX-Request") == "true"


def _problem(code: str, detail: str) -> str:
    """The problem as a page, or as a fragment for htmx (shown where its form asked)."""
    return flask.render_template("_problem.html" if sent_with_htmx() else "problem.html", code=code, detail=detail)


def _domain_error(error: errors.DomainError) -> tuple[str, int]:
    _rollback()
    return _problem(error.code, error.detail), problems.status_of(error)


def _invalid(error: pydantic.ValidationError) -> tuple[str, int]:
    """A form field that does not validate: 422, naming each field as the API does."""
    _rollback()
    fields = ", ".join(".".join(str(p) for p in issue["loc"]) or "form" for issue in error.errors(include_url=False))
    detail = f"Check these fields: {fields}."
    return _problem("validation_failed", detail), 422


def _http_error(error: HTTPException) -> tuple[str, int]:
    _rollback()
    status = error.code or 500
    return _problem(error.name.lower(), error.description or error.name), status


def _unexpected(error: Exception) -> tuple[str, int, dict[str, str]]:
    """A dependency outage (the database) is 503 with Retry-After; anything else a bare 500."""
    _rollback()
    if isinstance(error, ConfigError):
        log.error(str(error))
        return _problem("misconfigured", "The service is misconfigured."), 503, {}
    if problems.is_database_outage(error):
        log.warning("console: the database is unavailable: %s", type(error).__name__)
        return (
            _problem("database_unavailable", "The database cannot be reached; try again shortly."),
            503,
            {"Retry-After": "5"},
        )
    log.exception("console: unexpected error")
    return _problem("internal_error", "Something went wrong on our side; it has been logged."), 500, {}


def _rollback() -> None:
    stack = flask.g.pop("work_context", None)
    if stack is not None:
        stack.__exit__(RuntimeError, RuntimeError("failed"), None)


class _Mounted:
    """Serve the app below `/console` as at its root: a request for `/console/x` reaches it as `/x`
    with `/console` as its script name, so every link it makes carries the prefix."""

    def __init__(self, app: flask.Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or "/"
        if path == PREFIX or path.startswith(PREFIX + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
            environ["PATH_INFO"] = path[len(PREFIX) :] or "/"
        elif not environ.get("SCRIPT_NAME"):
            environ["SCRIPT_NAME"] = PREFIX  # at the function's root (Cloud Functions): links still carry it
        return self.app(environ, start_response)


def handler() -> Any:
    """A WSGI app for the dev server and tests, and `handle` for the function's entry point."""
    return _Mounted(create_app())


def handle(wsgi: Any, request: Request) -> Response:
    """One request through the console (the functions-framework entry point's whole body)."""
    return Response.from_app(wsgi, request.environ)
