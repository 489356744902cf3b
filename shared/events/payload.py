"""What an event is about, read once from its `data`: the entity it carries (a release, a deployment
or a freeze or a lock, as the API shows it) and the names subscriptions filter on and messages quote.

Every event's `data` holds the entity under its own key, with `actor` and the audit record's own
fields beside it; where two places could name a value (a deployment's `application` and its
release's), the first in the order below wins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class About:
    """The facts of one event, each "" when the event does not carry it."""

    type: str = ""
    application: str = ""
    version: str = ""
    environment: str = ""
    release_id: str = ""
    deployment_id: str = ""
    actor: str = ""
    title: str = ""
    notes: str = ""
    reason: str = ""
    message: str = ""
    log_url: str = ""
    # An approval request's "what changes there", in words.
    changes: str = ""


def _text(*candidates: Any) -> str:
    """The first value given that is not empty, as text."""
    return next((str(value) for value in candidates if value), "")


def _entity(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = data.get(key)
    return found if isinstance(found, Mapping) else {}


def about(event: Mapping[str, Any]) -> About:
    """What `event` (with `type` and `data`) is about."""
    data = event.get("data")
    data = data if isinstance(data, Mapping) else {}
    release, deployment = _entity(data, "release"), _entity(data, "deployment")
    freeze = _entity(data, "freeze") or _entity(data, "lock")  # a freeze or a lock: where, and why
    actor = data.get("actor")
    if isinstance(actor, Mapping):
        actor = _text(actor.get("email"), actor.get("name"), actor.get("id"))
    return About(
        type=_text(event.get("type")),
        application=_text(
            data.get("application"),
            release.get("application"),
            deployment.get("application"),
            freeze.get("application"),
        ),
        version=_text(release.get("version"), deployment.get("version")),
        environment=_text(data.get("environment"), deployment.get("environment"), freeze.get("environment")),
        release_id=_text(release.get("id"), deployment.get("release_id"), data.get("release_id")),
        deployment_id=_text(deployment.get("id"), data.get("deployment_id")),
        actor=_text(actor),
        title=_text(release.get("title")),
        notes=_text(release.get("notes")),
        reason=_text(deployment.get("reason"), release.get("cancel_reason"), freeze.get("reason")),
        message=_text(deployment.get("message")),
        log_url=_text(deployment.get("log_url")),
        changes=describe_changes(data.get("changes")),
    )


def describe_changes(changes: Any) -> str:
    """`changes` (as preflight gives it) in words: "3 releases since 1.4.0: 1.5.0 New basket, ..."."""
    if not isinstance(changes, Mapping) or not changes.get("count"):
        return ""
    count = changes["count"]
    since = f"since {changes['base_version']}" if changes.get("base_version") else "(nothing is live there yet)"
    if changes.get("direction") == "backward":
        since = f"back from {changes.get('base_version')}"
    shown = ", ".join(f"{r.get('version')} {r.get('title')}" for r in (changes.get("releases") or [])[:3])
    more = ", ..." if count > 3 else ""
    return f"{count} release{'s' if count != 1 else ''} {since}: {shown}{more}"
