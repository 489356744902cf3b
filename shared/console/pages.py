"""The console's pages: the matrix, the approvals inbox (with its decisions), a release, and signing
in and out. Each reads and writes through the same services as the API, with the signed-in person
as the caller, so every permission and gate is the API's own; what the person may not do is shown
disabled with the gate's code and reason."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import flask

from shared.auth import service as auth
from shared.auth.ratelimit import get_limiter
from shared.auth.schemas import LoginIn, RefreshIn
from shared.console import assets, session
from shared.console.app import sent_with_htmx
from shared.deployments import approvals, holds, inbox, matrix, read_models
from shared.deployments.freezes import load_freezes
from shared.deployments.locks import load_locks
from shared.deployments.schemas import ApprovalIn
from shared.errors import DomainError, Unauthorized
from shared.platform.settings import get_settings
from shared.web import client_address

blueprint = flask.Blueprint("pages", __name__)


def signed_in() -> session.Session:
    """The signed-in person; a page without one sends them to the login form (and back)."""
    current: session.Session | None = flask.g.session
    if current is None:
        raise _SignIn()
    return current


class _SignIn(Exception):
    """Not signed in: the page sends the person to the login form, and back here after."""


@blueprint.app_errorhandler(_SignIn)
def _to_login(_: _SignIn) -> Any:
    here = flask.request.script_root + flask.request.full_path.rstrip("?")
    return flask.redirect(flask.url_for("pages.login_form", next=here))


@blueprint.app_context_processor
def _everywhere() -> dict[str, Any]:
    current: session.Session | None = flask.g.get("session")
    return {
        "me": current.principal if current else None,
        "csrf": current.csrf_token if current else "",
        "htmx": assets.HTMX,
    }


# -- signing in and out -----------------------------------------------------------------------------


@blueprint.get("/login")
def login_form() -> Any:
    return flask.render_template("login.html", next=_next(), failed=None)


@blueprint.post("/login")
def login() -> Any:
    """Check the email and password (the API's login: the same limits and audit), open a session of
    the console's own and keep it in the cookie."""
    form = flask.request.form
    try:
        body = LoginIn(email=form.get("email", ""), password=form.get("password", ""))
        pair = auth.login(
            flask.g.work,
            body,
            settings=get_settings(),
            limiter=get_limiter(),
            client=client_address(flask.request),
        )
    except (DomainError, ValueError) as error:
        failed = error.detail if isinstance(error, DomainError) else "Enter an email and a password."
        status = 429 if getattr(error, "code", "") == "too_many_attempts" else 401
        return flask.render_template("login.html", next=_next(), failed=failed), status
    return session.keep(flask.redirect(_next()), pair["refresh_token"])


@blueprint.post("/logout")
def logout() -> Any:
    """End the session (its refresh family is revoked, as an API logout does)."""
    token = session.refresh_token_of(flask.request)
    if token:
        with contextlib.suppress(Unauthorized):  # already ended
            auth.logout(flask.g.work, RefreshIn(refresh_token=token))
    return session.forget(flask.redirect(flask.url_for("pages.login_form")))


def _next() -> str:
    """Where to go after signing in: a path of this console only (never another site)."""
    wanted = flask.request.values.get("next", "")
    root = flask.url_for("pages.matrix_page")
    return wanted if wanted.startswith(root) and not wanted.startswith("//") else root


# -- the matrix -------------------------------------------------------------------------------------


@blueprint.get("/")
def matrix_page() -> Any:
    """Applications by environments: what is live where, the latest attempt where it differs, and a
    freeze or a lock on its environment's column."""
    signed_in()
    work = flask.g.work
    query = read_models.MatrixQuery.model_validate(
        {k: v for k, v in flask.request.args.items() if k in ("application", "team", "cursor") and v} | {"limit": 25}
    )
    rows, cursor = matrix.matrix(work, query)
    columns = matrix.environment_names(work.conn)
    freezes = load_freezes(work.conn, now=work.now)
    banners = {
        name: [f"frozen: {f.reason}" for f in holds.active_freezes(freezes, name, work.now, None)]
        + [
            f"locked{' for ' + lock.application if lock.application else ''}: {lock.reason}"
            for lock in load_locks(work.conn, now=work.now, environment=name)
        ]
        for name in columns
    }
    return flask.render_template("matrix.html", rows=rows, columns=columns, banners=banners, cursor=cursor, query=query)


# -- the approvals inbox ----------------------------------------------------------------------------


@blueprint.get("/approvals")
def inbox_page() -> Any:
    """Every deployment waiting for approval, with what it changes and what it still needs; the
    person's own decision buttons, or why they may not decide."""
    me = signed_in()
    items, _ = inbox.approval_requests(flask.g.work, me.principal, read_models.ApprovalRequestQuery(limit=100))
    return flask.render_template("inbox.html", items=items)


@blueprint.post("/approvals/<uuid:release_id>/<uuid:deployment_id>")
def decide(release_id: uuid.UUID, deployment_id: uuid.UUID) -> Any:
    """Approve or reject, with a comment, as the API does (every rule of `approvals.decide`): back to
    the inbox, or with htmx the decided request in place of the form."""
    me = signed_in()
    form = flask.request.form
    decision = ApprovalIn.model_validate({"decision": form.get("decision"), "comment": form.get("comment", "")})
    made = approvals.decide(
        flask.g.work, release_id=release_id, deployment_id=deployment_id, caller=me.principal, approval=decision
    )
    flask.g.work.commit()
    if not sent_with_htmx():
        return flask.redirect(flask.url_for("pages.inbox_page", done=decision.decision), code=303)
    # In place: the decided request replaces the whole article, not only the form's outcome.
    headers = {"HX-Retarget": f"#request-{deployment_id}", "HX-Reswap": "outerHTML"}
    return flask.render_template("_decided.html", decision=made), 200, headers
