"""The headers around every answer: request id and trace, CORS, the access log, and the
caller's address and path as they arrived."""

from __future__ import annotations

import logging
import re
import secrets
import time
from urllib.parse import urlsplit

from flask import Request, Response

from shared.platform.settings import ConfigError, Settings, get_settings
from shared.web import problems

log = logging.getLogger("shared.web")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_EXPOSED_HEADERS = "ETag, Location, Link, X-Request-ID, Retry-After"


def request_id(request: Request) -> str:
    """The id the client sent in X-Request-ID when it is a sensible one, else a new one."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)


def trace(request: Request) -> str | None:
    """The Cloud Trace resource the request belongs to, for the log lines (with a GCP project)."""
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


def preflight(request: Request) -> Response:
    """The answer to a CORS preflight: 204 for an allowed origin, a 403 problem otherwise."""
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


def add_cors(request: Request, response: Response) -> None:
    """Let an allowed origin's page read the answer and the headers it needs."""
    origin = request.headers.get("Origin")
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Origin"
    elif "origin" not in (v.strip().lower() for v in vary.split(",")):
        response.headers["Vary"] = f"{vary}, Origin"
    if origin and origin in _allowed_origins():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS


def access_log(request: Request, response: Response, started: float) -> None:
    """One line per request, with Cloud Logging's `httpRequest` fields."""
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


def sent_path(request: Request) -> str:
    """The path as the client sent it, before any decoding or mounting: the whole `/health` under
    the dev server (which hands the function `/`), `%6c` still escaped, `//` still doubled."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.script_root + request.path
    if not raw.startswith("/"):
        raw = urlsplit(raw).path or "/"  # the absolute form a proxy may send: http://host/path
    return str(raw).split("?", 1)[0]


def client_address(request: Request) -> str:
    """The caller's address. Behind Google's load balancer the client is the second-last hop."""
    if get_settings().trust_forwarded_for:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= 2:
            return hops[-2]
    return request.remote_addr or "unknown"


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
