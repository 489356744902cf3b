"""Event bodies: the standard JSON envelope, and messages for Slack and Google Chat incoming webhooks.

An event is `{id, type, timestamp, data}`; `data` holds `application`, `environment`, `actor`
(`{id, email}` or a string) and, as the API shows them, `release` and/or `deployment` (or `freeze`, or `lock`).
Chat messages only read those fields, and tolerate any of them missing.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from shared.events.payload import About, about
from shared.events.rules import FORMATS
from shared.platform.clock import utcnow

NOTES_LIMIT = 300
REASON_LABEL = "Reason, as given"
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
CLI = "relman"
_SLACK_HEADER_LIMIT = 150  # Block Kit: a header's plain_text
_SLACK_TEXT_LIMIT = 3000  # Block Kit: a section's text
_SLACK_FIELD_LIMIT = 2000  # Block Kit: each of a section's (at most 10) fields


def new_event(*, type: str, data: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """An event with a fresh id: its id is the `webhook-id` of every delivery and retry of it."""
    return {"id": str(uuid.uuid4()), "type": type, "timestamp": rfc3339(now or utcnow()), "data": dict(data)}


def rfc3339(moment: datetime) -> str:
    """`2026-11-26T10:00:00Z` (UTC, as every timestamp of the API)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: object) -> bytes:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode()


def render(fmt: str, event: Mapping[str, Any], *, approvers: str | None = None) -> bytes:
    """The body of a delivery in a subscription's `format`. `approvers` says who may approve a
    deployment waiting for approval (e.g. "release managers of checkout in production")."""
    if fmt == "standard":
        return to_json({k: event[k] for k in ("id", "type", "timestamp", "data")})
    if fmt == "slack":
        return to_json(slack_message(event, approvers=approvers))
    if fmt == "google_chat":
        return to_json(google_chat_message(event, approvers=approvers))
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


# -- what an event says, in words -------------------------------------------------------------------


def _facts(event: Mapping[str, Any]) -> About:
    """What the event is about, with "someone" for an actor it does not name."""
    found = about(event)
    return dataclasses.replace(found, actor=found.actor or "someone")


_SUMMARIES = {
    "release.created": "{what} was created by {actor}",
    "release.ready": "{what} is ready to deploy",
    "release.cancelled": "{what} was cancelled by {actor}",
    "deployment.requested": "{actor} asked to deploy {what} to {environment}",
    "deployment.pending_approval": "Approval needed: {what} to {environment}",
    "deployment.stage_skipped": "{actor} took the hotfix lane: {what} goes to {environment} skipping a stage",
    "deployment.approved": "{actor} approved the deployment of {what} to {environment}",
    "deployment.rejected": "{actor} rejected the deployment of {what} to {environment}",
    "deployment.started": "Deployment of {what} to {environment} started",
    "deployment.succeeded": "{what} is live in {environment}",
    "deployment.failed": "Deployment of {what} to {environment} failed",
    "deployment.cancelled": "Deployment of {what} to {environment} was cancelled",
    "deployment.rolled_back": "{what} was rolled back in {environment}",
    "deployment.expired": "The request to deploy {what} to {environment} expired: nobody moved it",
    "freeze.created": "{actor} froze deployments to {environment}",
    "freeze.deleted": "{actor} lifted a deployment freeze on {environment}",
    "environment.locked": "{actor} locked {environment}{scope}: nothing new starts there",
    "environment.unlocked": "{actor} unlocked {environment}{scope}",
    "application.updated": "{actor} changed the application {what} (its names or promotion path)",
    "environment.updated": "{actor} changed the environment {environment} or its policy",
    "drift.detected": "An image of {what} was deployed to {environment} around the gates",
}


def summary(event: Mapping[str, Any]) -> str:
    """One plain sentence about the event (notifications, fallbacks)."""
    facts = _facts(event)
    what = " ".join(p for p in (facts.application, facts.version) if p) or "a release"
    environment = facts.environment or "every environment"
    template = _SUMMARIES.get(str(event.get("type")), "{type}")
    scope = f" for {facts.application}" if facts.application else ""
    return template.format(what=what, environment=environment, actor=facts.actor, type=event.get("type"), scope=scope)


def approve_command(deployment_id: str) -> str:
    return f"{CLI} approve {deployment_id}"


def shorten(text: str, limit: int = NOTES_LIMIT) -> str:
    """At most `limit` characters, cut at a word and marked with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def one_line(text: str) -> str:
    """A value shown on one line: each run of line breaks (CR, LF, U+2028 and the others) and tabs is one space."""
    return _LINE_BREAKS.sub(" ", text)


def _is_approval_request(event: Mapping[str, Any]) -> bool:
    return event.get("type") == "deployment.pending_approval"


# -- Slack: `text` (notifications) plus Block Kit `blocks` ------------------------------------------


def slack_escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup (`<!channel>` pings everyone): escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_url(url: str) -> str:
    """A URL for `<url|label>`: `|` would end the URL and start the label, `<` and `>` end the link,
    so they are percent-encoded (the same address to the browser); `&` is escaped as Slack asks."""
    for character, encoded in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        url = url.replace(character, encoded)
    return url.replace("&", "&amp;")


def _slack_quote(label: str, text: str) -> dict[str, Any]:
    """Text someone typed, in a quote block of its own under a bold label: a rich-text `text`
    element is literal (no mrkdwn, no mentions, no links), and its new lines stay in the quote, so
    it cannot add lines that look like the message's own."""
    return {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": label, "style": {"bold": True}}]},
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": shorten(text)}]},
        ],
    }


def _slack_notes(notes: str) -> str:
    # Quoted, so the notes' own Markdown can't break out into the message around them.
    return "\n".join("> " + slack_escape(line) for line in shorten(notes).splitlines() or [""])


def slack_message(event: Mapping[str, Any], *, approvers: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain `text` for notifications and Block Kit `blocks`."""
    facts = _facts(event)
    text = summary(event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text[:_SLACK_HEADER_LIMIT], "emoji": False}}
    ]
    fields = [
        (label, getattr(facts, key))
        for label, key in (
            ("Application", "application"),
            ("Version", "version"),
            ("Environment", "environment"),
            ("By" if not _is_approval_request(event) else "Requested by", "actor"),
        )
        if getattr(facts, key)
    ]
    if _is_approval_request(event) and approvers:
        fields.append(("Who may approve", approvers))
    if _is_approval_request(event) and facts.changes:
        fields.append(("What changes", facts.changes))
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": f"*{label}*\n{slack_escape(one_line(value))}"[:_SLACK_FIELD_LIMIT],
                        "verbatim": True,
                    }
                    for label, value in fields[:10]
                ],
            }
        )
    if facts.reason:
        blocks.append(_slack_quote(REASON_LABEL, facts.reason))
    if facts.notes and event.get("type", "").startswith(("release.", "deployment.pending_approval")):
        notes = f"*Release notes*\n{_slack_notes(facts.notes)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notes[:_SLACK_TEXT_LIMIT]}})
    if _is_approval_request(event) and facts.deployment_id:
        command = approve_command(facts.deployment_id)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"To approve, run:\n`{command}`"}})
    if facts.log_url:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{slack_url(facts.log_url)}|Log>"}]}
        )
    return {"text": slack_escape(text), "blocks": blocks}


# -- Google Chat: `text` plus a `cardsV2` card ------------------------------------------------------

_CHAT_MARKUP = re.compile(r"[<>]")


def _chat_quote(label: str, text: str) -> str:
    """Text someone typed, under a bold label, every line HTML-escaped and marked `> `, so none of
    it can pass for a line of the card's own."""
    lines = shorten(text).splitlines() or [""]
    return f"<b>{html.escape(label)}</b><br>" + "<br>".join("&gt; " + html.escape(line) for line in lines)


def google_chat_message(event: Mapping[str, Any], *, approvers: str | None = None) -> dict[str, Any]:
    """A Google Chat incoming-webhook message: a `text` line and a card (`cardsV2`) with the details.

    Card text takes a small HTML subset, so every value is HTML-escaped; the `text` line has no
    `<...>` left in it, which Chat would read as a mention (`<users/all>`)."""
    facts = _facts(event)
    text = summary(event)
    if _is_approval_request(event) and facts.deployment_id:
        text += f": run `{approve_command(facts.deployment_id)}`"
    widgets: list[dict[str, Any]] = [
        {"decoratedText": {"topLabel": label, "text": html.escape(one_line(getattr(facts, key)))}}
        for label, key in (
            ("Application", "application"),
            ("Version", "version"),
            ("Environment", "environment"),
            ("Requested by" if _is_approval_request(event) else "By", "actor"),
        )
        if getattr(facts, key)
    ]
    if _is_approval_request(event) and approvers:
        widgets.append({"decoratedText": {"topLabel": "Who may approve", "text": html.escape(one_line(approvers))}})
    if _is_approval_request(event) and facts.changes:
        widgets.append({"decoratedText": {"topLabel": "What changes", "text": html.escape(one_line(facts.changes))}})
    if facts.reason:
        widgets.append({"textParagraph": {"text": _chat_quote(REASON_LABEL, facts.reason)}})
    if facts.notes and event.get("type", "").startswith(("release.", "deployment.pending_approval")):
        notes = html.escape(shorten(facts.notes)).replace("\n", "<br>")
        widgets.append({"textParagraph": {"text": f"<b>Release notes</b><br>{notes}"}})
    if _is_approval_request(event) and facts.deployment_id:
        command = html.escape(approve_command(facts.deployment_id))
        widgets.append({"textParagraph": {"text": f"To approve, run:<br><b>{command}</b>"}})
    if facts.log_url:
        widgets.append({"buttonList": {"buttons": [{"text": "Log", "onClick": {"openLink": {"url": facts.log_url}}}]}})
    card: dict[str, Any] = {"header": {"title": summary(event), "subtitle": str(event.get("type"))}}  # plain text
    if widgets:
        card["sections"] = [{"widgets": widgets}]
    return {
        "text": _CHAT_MARKUP.sub("", text),
        "cardsV2": [{"cardId": str(event.get("id") or "event"), "card": card}],
    }
