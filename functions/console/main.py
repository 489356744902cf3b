"""The console function: the people's pages at `/console/` (shared/console), server-rendered from
the same services as the API."""

import functions_framework
from flask import Request
from werkzeug.wrappers import Response

from shared.console.app import handle, handler

app = handler()


@functions_framework.http
def console(request: Request) -> Response:
    """Cloud Functions entry point."""
    return handle(app, request)
