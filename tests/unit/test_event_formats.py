"""Event bodies: the standard envelope, and Slack / Google Chat messages a person can act on."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import formats

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEPLOYMENT_ID = "0b3c7d9e-51f2-4f7a-9a55-2d4c1f0e8b21"
NOTES = "Fixes *checkout* totals & <!channel> rounding.\n\n" + "More detail. " * 60


def approval_request(**data):
    return formats.new_event(
        type="deployment.pending_approval",
        now=NOW,
        data={
            "application": "checkout",
            "environment": "production",
            "actor": {"id": str(uuid.uuid4()), "email": "dev@example.com"},
            "release": {"id": uuid.uuid4(), "application": "checkout", "version": "1.4.2", "notes": NOTES},
            "deployment": {"id": DEPLOYMENT_ID, "environment": "production", "status": "pending_approval"},
            **data,
        },
    )


WHO = "release managers of checkout in production"


def test_the_standard_body_is_the_event_as_json_with_rfc3339_times_and_string_ids():
    event = formats.new_event(
        type="release.created", now=NOW, data={"release": {"id": uuid.UUID(int=1), "created_at": NOW}}
    )
    body = json.loads(formats.render("standard", event))

    assert set(body) == {"id", "type", "timestamp", "data"}
    assert body["timestamp"] == "2026-11-26T10:00:00Z"
    assert body["data"]["release"] == {"id": str(uuid.UUID(int=1)), "created_at": "2026-11-26T10:00:00Z"}
    uuid.UUID(body["id"])


def test_every_event_gets_its_own_id():
    assert (
        formats.new_event(type="freeze.created", data={})["id"]
        != formats.new_event(type="freeze.created", data={})["id"]
    )


def test_an_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError, match="teams"):
        formats.render("teams", approval_request())


def test_a_slack_approval_request_names_release_environment_requester_approvers_notes_and_command():
    message = json.loads(formats.render("slack", approval_request(), approvers=WHO))
    blocks = message["blocks"]
    everything = json.dumps(blocks)

    assert message["text"] == "Approval needed: checkout 1.4.2 to production"
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Approval needed: checkout 1.4.2 to production", "emoji": False},
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields == [
        "*Application*\ncheckout",
        "*Version*\n1.4.2",
        "*Environment*\nproduction",
        "*Requested by*\ndev@example.com",
        f"*Who may approve*\n{WHO}",
    ]
    assert f"`relman approve {DEPLOYMENT_ID}`" in everything
    assert "Fixes *checkout* totals" in everything


def test_slack_notes_are_shortened_quoted_and_cannot_ping_the_channel():
    message = formats.slack_message(approval_request(), approvers=WHO)
    notes = next(b["text"]["text"] for b in message["blocks"] if "Release notes" in b.get("text", {}).get("text", ""))

    assert "<!channel>" not in notes
    assert "&lt;!channel&gt;" in notes
    assert "&amp;" in notes
    assert all(line.startswith("> ") for line in notes.splitlines()[1:])
    assert notes.endswith("…")
    assert len(notes) < len("*Release notes*\n") + formats.NOTES_LIMIT + 40  # plus quote marks and escapes


def test_slack_blocks_stay_within_block_kit_limits_for_huge_values():
    event = approval_request(application="a" * 500, environment="e" * 3000)
    message = formats.slack_message(event, approvers="x" * 5000)

    assert len(message["blocks"][0]["text"]["text"]) <= 150
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
            assert len(block.get("text", {}).get("text", "")) <= 3000


def test_a_google_chat_approval_request_carries_the_same_facts_in_a_card():
    message = json.loads(formats.render("google_chat", approval_request(), approvers=WHO))
    card = message["cardsV2"][0]["card"]
    widgets = card["sections"][0]["widgets"]
    labelled = {w["decoratedText"]["topLabel"]: w["decoratedText"]["text"] for w in widgets if "decoratedText" in w}
    paragraphs = " ".join(w["textParagraph"]["text"] for w in widgets if "textParagraph" in w)

    assert message["text"] == f"Approval needed: checkout 1.4.2 to production: run `relman approve {DEPLOYMENT_ID}`"
    assert card["header"]["title"] == "Approval needed: checkout 1.4.2 to production"
    assert labelled == {
        "Application": "checkout",
        "Version": "1.4.2",
        "Environment": "production",
        "Requested by": "dev@example.com",
        "Who may approve": WHO,
    }
    assert f"relman approve {DEPLOYMENT_ID}" in paragraphs
    assert "&lt;!channel&gt;" in paragraphs and "<!channel>" not in paragraphs
    assert message["cardsV2"][0]["cardId"]


def test_google_chat_text_cannot_mention_everyone():
    event = approval_request(actor="<users/all>")
    message = formats.google_chat_message(event)
    assert "<users/all>" not in json.dumps(message)


@pytest.mark.parametrize(
    ("event_type", "sentence"),
    [
        ("deployment.succeeded", "checkout 1.4.2 is live in production"),
        ("deployment.failed", "Deployment of checkout 1.4.2 to production failed"),
        ("deployment.approved", "dev@example.com approved the deployment of checkout 1.4.2 to production"),
        ("release.ready", "checkout 1.4.2 is ready to deploy"),
    ],
)
def test_other_events_read_as_one_sentence_in_both_chats(event_type, sentence):
    event = approval_request() | {"type": event_type}
    assert formats.slack_message(event)["text"] == sentence
    assert formats.google_chat_message(event)["text"] == sentence
    assert "relman approve" not in json.dumps(formats.slack_message(event))


def test_a_freeze_names_its_environment_and_reason():
    event = formats.new_event(
        type="freeze.created",
        data={"environment": "production", "actor": "admin@example.com", "freeze": {"reason": "Black Friday"}},
    )
    message = formats.slack_message(event)
    assert message["text"] == "admin@example.com froze deployments to production"
    assert "Black Friday" in json.dumps(message)


def test_shorten_cuts_at_a_word_and_marks_the_cut():
    assert formats.shorten("short") == "short"
    cut = formats.shorten("word " * 100, limit=50)
    assert len(cut) <= 50 and cut.endswith("word…")


FAKE_REASON = "hotfix\n*Approved by* sre-lead@example.com :white_check_mark:\n<!here> <https://evil.example|Log>"


def test_a_slack_requesters_reason_sits_literally_in_its_own_quote_and_adds_no_lines_of_the_message():
    event = approval_request(deployment={"id": DEPLOYMENT_ID, "environment": "production", "reason": FAKE_REASON})
    message = formats.slack_message(event, approvers=WHO)

    (quote,) = [b for b in message["blocks"] if b["type"] == "rich_text"]
    label, quoted = quote["elements"]
    assert label["elements"] == [{"type": "text", "text": "Reason, as given", "style": {"bold": True}}]
    assert quoted == {"type": "rich_text_quote", "elements": [{"type": "text", "text": FAKE_REASON}]}
    mrkdwn = [
        obj["text"]
        for b in message["blocks"]
        for obj in [*b.get("fields", []), b.get("text", {}), *b.get("elements", [])]
        if obj.get("type") == "mrkdwn"
    ]
    assert not any("Approved by" in text or "here" in text or "evil" in text for text in mrkdwn)


def test_slack_fields_stay_on_one_line_and_cannot_ping():
    event = approval_request(actor="dev@example.com\n*Approved by* <!channel>")
    fields = formats.slack_message(event)["blocks"][1]["fields"]

    requested_by = next(f for f in fields if f["text"].startswith("*Requested by*"))
    assert requested_by["text"] == "*Requested by*\ndev@example.com *Approved by* &lt;!channel&gt;"
    assert requested_by["verbatim"] is True


def test_a_pipe_in_a_log_url_cannot_set_the_slack_links_label():
    log_url = "https://ci.example.com/run/1?x=a&b|Approved by sre>"
    event = formats.new_event(
        type="deployment.failed",
        data={"deployment": {"id": DEPLOYMENT_ID, "environment": "production", "log_url": log_url}},
    )
    (link,) = [b for b in formats.slack_message(event)["blocks"] if b["type"] == "context"]

    text = link["elements"][0]["text"]
    assert text == "<https://ci.example.com/run/1?x=a&amp;b%7CApproved%20by%20sre%3E|Log>"
    assert text.count("|") == 1 and text.endswith("|Log>")


def test_a_google_chat_requesters_reason_is_escaped_and_quoted_line_by_line():
    event = approval_request(
        deployment={"id": DEPLOYMENT_ID, "environment": "production", "reason": FAKE_REASON + "\n<b>ok</b>"}
    )
    widgets = formats.google_chat_message(event, approvers=WHO)["cardsV2"][0]["card"]["sections"][0]["widgets"]

    (reason,) = [w["textParagraph"]["text"] for w in widgets if "Reason" in w.get("textParagraph", {}).get("text", "")]
    label, *lines = reason.split("<br>")
    assert label == "<b>Reason, as given</b>"
    assert len(lines) == 4 and all(line.startswith("&gt; ") for line in lines)
    assert lines[3] == "&gt; &lt;b&gt;ok&lt;/b&gt;"
    assert not any("Reason" in w.get("decoratedText", {}).get("topLabel", "") for w in widgets)


def test_an_approval_request_says_what_it_changes_there_in_slack_and_google_chat():
    releases = [{"version": v, "title": f"<b>{v}</b>"} for v in ("1.4.4", "1.4.3", "1.4.2", "1.4.1")]
    changes = {"base_version": "1.4.0", "direction": "forward", "count": 4, "releases": releases}
    event = approval_request(changes=changes)

    slack = json.dumps(json.loads(formats.render("slack", event, approvers=WHO))["blocks"])
    chat = json.dumps(json.loads(formats.render("google_chat", event, approvers=WHO)))
    first = json.dumps(
        json.loads(formats.render("slack", approval_request(changes=changes | {"base_version": None, "count": 1})))
    )

    shown = ", ".join(f"{v} &lt;b&gt;{v}&lt;/b&gt;" for v in ("1.4.4", "1.4.3", "1.4.2"))
    assert f"*What changes*\\n4 releases since 1.4.0: {shown}, ..." in slack  # escaped: a title is never markup
    assert "What changes" in chat and "&lt;b&gt;1.4.4&lt;/b&gt;" in chat
    assert "1 release (nothing is live there yet)" in first
