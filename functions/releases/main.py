"""The releases function: releases, environments, deployments, approvals, freezes, audit."""

import functions_framework
from flask import Request, Response

from shared.auth.guard import authenticate
from shared.web import Api

api = Api("releases", title="Release Manager: releases", authenticator=authenticate)


@functions_framework.http
def releases(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
