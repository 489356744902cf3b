"""The releases function: releases, environments, deployments, approvals, freezes, audit, events.

Each concept declares its routes beside it (`shared/<concept>/views.py`); this module serves them
under one Api, in this order, as Cloud Function `releases`."""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.applications import views as application_views
from shared.audit import views as audit_views
from shared.deployments import views as deployment_views
from shared.releases import views as release_views
from shared.subscriptions import views as subscription_views
from shared.web import Api
from shared.web.guard import authenticate

api = Api("releases", title="Release Manager: releases", authenticator=authenticate)
api.include(release_views.routes)
api.include(deployment_views.routes)
api.include(application_views.routes)
api.include(audit_views.routes)
api.include(subscription_views.routes)

functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def releases(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
