"""The auth function: accounts, sessions, roles, API tokens, teams and role bindings, service accounts.

Each concern declares its routes beside it (`shared/auth/views/`); this module serves them under
one Api, in this order, as Cloud Function `auth`."""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.auth.views import service_accounts, sessions, teams, tokens, users
from shared.web import Api
from shared.web.guard import authenticate

api = Api("auth", title="Release Manager: auth", authenticator=authenticate, no_store=True)
api.include(sessions.routes)
api.include(users.routes)
api.include(tokens.routes)
api.include(teams.routes)
api.include(service_accounts.routes)

functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def auth(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
