"""The console's pages of one application and one deployment: a path with its gates and what is
under way, promote and roll back; a deployment's timeline, approvals and what holds its start."""

from __future__ import annotations

import uuid
from typing import Any

import flask

from shared import catalog
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import names_of
from shared.console.pages import blueprint, signed_in
from shared.deployments import approvals, compare, gates, holds, rollback, rules
from shared.deployments import service as deployments
from shared.deployments.freezes import load_freezes
from shared.deployments.hold_schemas import ENVIRONMENT
from shared.deployments.locks import load_locks
from shared.deployments.overview import overview
from shared.deployments.records import get_deployment, who_may_approve, with_decisions
from shared.deployments.schemas import DeploymentIn, RollbackIn
from shared.errors import DomainError
from shared.models import Strict
from shared.releases.service import load_release


class Promotion(Strict):
    """The promote form: which release, to which stage."""

    release_id: uuid.UUID
    environment: str = ENVIRONMENT


def _may(grants: Any, role: str, *, application: str, environment: str) -> dict[str, str] | None:
    """None where the grants give `role` there, else the refusal the API would answer."""
    held = roles.role_on(grants, application=application, environment=environment)
    if held is not None and roles.at_least(held, role):
        return None
    return {
        "code": "insufficient_role",
        "detail": f"This needs {role} on {application} in {environment}; you have {held or 'no role'}.",
    }


@blueprint.get("/applications/<name>")
def application_page(name: str) -> Any:
    """An application's path as stages with their gates, what is live and under way in each, and a
    promote button (the release live in the stage before) and a roll back button per stage, each
    disabled with the gate's code and reason where the API would refuse it."""
    me = signed_in()
    roles.require(me.principal.grants, "viewer")
    work = flask.g.work
    application = catalog.get_application(work, name=name)
    live = overview(work, application=name)["environments"]
    freezes = load_freezes(work.conn, now=work.now)
    stages = []
    previous: dict[str, Any] | None = None
    for stage in application["path"]:
        here = live.get(stage["environment"], {})
        candidate = (live.get(previous["environment"], {}) or {}).get("live") if previous else None
        if candidate and here.get("live") and candidate["release_id"] == here["live"]["release_id"]:
            candidate = None  # already live here
        stages.append(
            {
                "stage": stage,
                "here": here,
                "holds": _holds(work, freezes, name, stage["environment"]),
                "candidate": candidate,
                "promote": _promote_refusal(work, me, name, stage["environment"], candidate),
                "rollback": _may(
                    me.principal.grants, "release_manager", application=name, environment=stage["environment"]
                )
                if here.get("live") and here.get("previous")
                else {"code": "no_rollback_target", "detail": "Nothing earlier succeeded here to roll back to."},
            }
        )
        previous = stage
    return flask.render_template("application.html", application=application, stages=stages)


def _holds(work: Any, freezes: list[holds.Freeze], application: str, environment: str) -> list[str]:
    """The freezes and locks holding `application` in `environment` now, in words."""
    frozen = [f"frozen: {f.reason}" for f in holds.active_freezes(freezes, environment, work.now, application)]
    locks = holds.active_locks(
        load_locks(work.conn, now=work.now, environment=environment), environment, work.now, application
    )
    return frozen + [f"locked by {lock.locked_by}: {lock.reason}" for lock in locks]


def _promote_refusal(work: Any, me: Any, application: str, environment: str, candidate: Any) -> dict[str, str] | None:
    if candidate is None:
        return {"code": "nothing_to_promote", "detail": "No release is live in the stage before that is not here."}
    refused = _may(me.principal.grants, "developer", application=application, environment=environment)
    if refused is not None:
        return refused
    answer = gates.preflight(work, release_id=candidate["release_id"], environment=environment)
    if answer["blocking"]:
        return {"code": answer["blocking"][0]["code"], "detail": answer["blocking"][0]["detail"]}
    return None


@blueprint.post("/applications/<name>/promote")
def promote(name: str) -> Any:
    """Request the deployment of a release to a stage (the API's request, every gate checked)."""
    me = signed_in()
    form = flask.request.form
    chosen = Promotion.model_validate({"release_id": form.get("release_id"), "environment": form.get("environment")})
    request = DeploymentIn.model_validate({"environment": chosen.environment})
    made = deployments.request_deployment(
        flask.g.work, release_id=chosen.release_id, caller=me.principal, request=request
    )
    flask.g.work.commit()
    return _to_deployment(made)


@blueprint.post("/applications/<name>/rollback")
def roll_back(name: str) -> Any:
    """Roll a stage back to the release before the live one, with a reason (the API's rollback)."""
    me = signed_in()
    form = flask.request.form
    request = RollbackIn.model_validate(
        {"application": name, "environment": form.get("environment"), "reason": form.get("reason", "").strip()}
    )
    made = rollback.rollback(flask.g.work, caller=me.principal, request=request)
    flask.g.work.commit()
    return _to_deployment(made)


def _to_deployment(made: dict[str, Any]) -> Any:
    target = flask.url_for("pages.deployment_page", release_id=made["release_id"], deployment_id=made["id"])
    return flask.redirect(target, code=303)


@blueprint.get("/deployments/<uuid:release_id>/<uuid:deployment_id>")
def deployment_page(release_id: uuid.UUID, deployment_id: uuid.UUID) -> Any:
    """A deployment: its timeline from the audit log, the approvals given and still needed (and by
    whom), what it changes against what is live there and what would hold its start now (while it
    waits), its log link; the decision form where it waits for approval."""
    me = signed_in()
    roles.require(me.principal.grants, "viewer")
    work = flask.g.work
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id)
    shown = with_decisions(work.conn, [row])[0]
    timeline, _ = audit.list_events(
        work.conn, entity_type="deployment", entity_id=str(deployment_id), limit=100, cursor=None
    )
    names = names_of(
        work.conn, {row.requested_by, *(a["user_id"] for a in shown["approvals"])} | {e["actor"] for e in timeline}
    ) | {rules.RULE_ACTOR + rule: name for rule, name in rules.RULE_NAMES.items()}
    holding = []
    refused = None
    if row.status in ("pending_approval", "queued"):
        holding = gates.move_blocking(
            work, deployment=row, release=load_release(work.conn, release_id), to_status="in_progress", hold=False
        )
    if row.status == "pending_approval":
        try:
            approvals.eligibility(work, release=load_release(work.conn, release_id), row=row, caller=me.principal)
        except DomainError as error:
            refused = {"code": error.code, "detail": error.detail}
    # What deciding on it decides: the releases it brings (or takes away) against what is live there.
    brings = None
    if row.status in ("pending_approval", "queued"):
        brings = compare.summary(
            work.conn, application=row.application, environment=row.environment, version=row.version
        )
    return flask.render_template(
        "deployment.html",
        d=shown,
        changes=brings,
        timeline=timeline,
        names=names,
        holding=holding,
        refused=refused,
        approvers=who_may_approve(work.conn, application=row.application, environment=row.environment),
    )
