"""The health function: `GET /health`, no token, bounded in time."""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared import health as checks
from shared.health import HealthOut
from shared.web import Api, Call, Reply

api = Api("health", title="Release Manager: health")


@api.get("/", db=False, response=HealthOut, json_errors={503: HealthOut})
def report(call: Call) -> Reply:
    """Database and cache status; 503 when the database is down, `degraded` without the cache."""
    body = checks.get_reporter().report()
    if body["status"] == "unavailable":
        return Reply(body=body, status=503, headers={"Retry-After": "5", "Cache-Control": "no-store"})
    return Reply(body=body, headers={"Cache-Control": "no-store"})


functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def health(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
