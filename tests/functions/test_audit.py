"""The audit log against a database superuser: a keyed chain, anchored by checkpoints kept outside
the database; and an NDJSON export that holds no pooled connection while a reader is slow."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from shared.audit import service as audit
from shared.audit.checkpoints import Checkpoint, Throttle, sink_for
from shared.audit.tables import audit_events
from shared.platform.cache import get_cache
from shared.platform.db import get_engine
from shared.platform.settings import get_settings, load_settings
from tests.factories import as_role
from tests.functions.test_releases import create
from tests.services import CHECKPOINTS


@pytest.fixture
def developer() -> dict[str, str]:
    return as_role("developer")[1]


@pytest.fixture
def admin() -> dict[str, str]:
    return as_role("admin")[1]


def checkpoints() -> list[Checkpoint]:
    return sink_for(get_settings()).read().checkpoints


def events() -> list[Any]:
    with get_engine().connect() as conn:
        return conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()


def as_superuser(*statements: Any) -> None:
    """Run statements as the database superuser, past the append-only trigger."""
    with get_engine().begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(statement)


def rehash_from(victim_seq: int, *, key: bytes | None, actor: str, claim_unkeyed: bool = False) -> None:
    """Edit one event's actor and re-hash every event from there on, as someone who holds the
    database but not AUDIT_KEY would: with plain SHA-256, or with a key of their own."""
    rows = events()
    prev = next((r.hash for r in reversed(rows) if r.seq < victim_seq), audit.GENESIS_HASH)
    updates = []
    for row in rows:
        if row.seq < victim_seq:
            continue
        event = row._asdict() | ({"actor": actor} if row.seq == victim_seq else {})
        message = prev.encode() + b"\n" + audit.canonical(event)
        digest = (
            hashlib.sha256(message).hexdigest() if key is None else hmac.new(key, message, hashlib.sha256).hexdigest()
        )
        values: dict[str, Any] = {"actor": event["actor"], "prev_hash": prev, "hash": digest}
        if claim_unkeyed:
            values["hash_version"] = audit.UNKEYED
        updates.append(sa.update(audit_events).where(audit_events.c.seq == row.seq).values(**values))
        prev = digest
    as_superuser(*updates)


def three_releases(client: Any, headers: dict[str, str]) -> None:
    for minor in range(3):
        create(client, headers, version=f"1.{minor}.0")


# -- checkpoints ------------------------------------------------------------------------------------


def test_each_commit_that_appends_events_checkpoints_the_new_head_and_a_failed_one_does_not(releases, developer, admin):
    three_releases(releases, developer)
    head = events()[-1]
    assert checkpoints()[-1] == Checkpoint(head.seq, head.hash)
    written = len(checkpoints())

    duplicate = releases.post("/releases", json={"application": "checkout", "version": "1.0.0", "title": "x"},
                              headers=developer)  # fmt: skip

    assert duplicate.status_code == 409
    assert len(checkpoints()) == written  # nothing committed, nothing anchored
    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is True and answer["problem"] is None
    assert answer["last_checkpoint"] == {"seq": head.seq, "hash": head.hash}
    assert answer["checkpoints"] == written and answer["unkeyed"] == 0


def test_a_burst_of_commits_writes_one_checkpoint_and_verify_still_catches_removed_events(
    releases, developer, admin, monkeypatch
):
    throttle = Throttle(1.0, get_cache())
    monkeypatch.setattr("shared.audit.service.get_throttle", lambda: throttle)

    before = len(checkpoints())  # the fixtures' accounts, written before the throttle was set
    three_releases(releases, developer)  # a burst, well within the interval
    burst = checkpoints()[before:]
    assert len(burst) == 1 and burst[0].seq < events()[-1].seq  # the first commit's head only
    time.sleep(1.1)
    create(releases, developer, version="2.0.0")  # the next interval's first commit anchors them all
    head = events()[-1]
    assert checkpoints()[before:] == [burst[0], Checkpoint(head.seq, head.hash)]

    as_superuser(sa.delete(audit_events).where(audit_events.c.seq == head.seq))

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is False and answer["problem"] == "events_removed"


def test_a_second_verify_reads_only_the_checkpoints_written_since_the_first(releases, developer, admin):
    three_releases(releases, developer)
    first = releases.get("/releases/audit/verify", headers=admin).get_json()
    create(releases, developer, version="2.0.0")

    second = releases.get("/releases/audit/verify", headers=admin).get_json()

    assert first["ok"] is True and first["anchor"] is None and first["checkpoints"] == len(checkpoints()) - 1
    assert second["ok"] is True and second["anchor"] == first["last_checkpoint"]
    assert second["checkpoints"] == 1 and second["checked"] == len(events())
    assert second["last_checkpoint"] == {"seq": events()[-1].seq, "hash": events()[-1].hash}


def test_a_checkpoint_line_without_a_true_mac_is_ignored_and_counted(releases, developer, admin):
    three_releases(releases, developer)
    forged = {"seq": events()[-1].seq + 10, "hash": "f" * 64, "mac": "0" * 64}
    with CHECKPOINTS.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()

    assert answer["ok"] is True and answer["ignored_checkpoints"] == 1
    assert answer["last_checkpoint"]["seq"] == events()[-1].seq


def test_events_are_hashed_with_the_key_not_plain_sha256(releases, developer):
    create(releases, developer)
    row = events()[-1]
    message = row.prev_hash.encode() + b"\n" + audit.canonical(row._asdict())

    assert row.hash_version == audit.KEYED
    assert row.hash == hmac.new(get_settings().audit_signing_key(), message, hashlib.sha256).hexdigest()
    assert row.hash != hashlib.sha256(message).hexdigest()


# -- what a superuser can do, and verify reports --------------------------------------------------


def test_verify_reports_the_newest_event_deleted_behind_the_api(releases, developer, admin):
    three_releases(releases, developer)
    newest = events()[-1]

    as_superuser(sa.delete(audit_events).where(audit_events.c.seq == newest.seq))

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is False
    assert answer["problem"] == "events_removed"
    assert f"after seq {events()[-1].seq} were removed" in answer["detail"]
    assert answer["last_checkpoint"]["seq"] == newest.seq


@pytest.mark.parametrize(("how", "key"), [("plain SHA-256", None), ("a key of their own", b"k" * 32)])
def test_verify_reports_an_edit_followed_by_re_hashing_the_chain(releases, developer, admin, how, key):
    three_releases(releases, developer)
    victim = events()[1]

    rehash_from(victim.seq, key=key, actor="someone-else")

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is False, how
    assert answer["problem"] == "hash_mismatch"
    assert answer["first_bad"] == str(victim.id)


def test_verify_reports_a_whole_chain_rewritten_as_old_unkeyed_events(releases, developer, admin):
    # Events from before the chain was keyed are checked with plain SHA-256, so someone may
    # rewrite every event and call them all old: the checkpoints outside the database catch it.
    three_releases(releases, developer)
    first = events()[0]

    rehash_from(first.seq, key=None, actor="someone-else", claim_unkeyed=True)

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is False
    assert answer["problem"] == "checkpoint_mismatch"


def test_verify_reports_a_checkpointed_event_removed_and_the_chain_re_linked_with_the_key(releases, developer, admin):
    # Even someone holding the key cannot drop an event that a checkpoint recorded.
    three_releases(releases, developer)
    rows = events()
    middle = rows[-2]
    key = get_settings().audit_signing_key()
    later = rows[-1]._asdict() | {"prev_hash": rows[-3].hash}
    relinked = audit.chain_hash(later["prev_hash"], later, key=key)

    as_superuser(
        sa.delete(audit_events).where(audit_events.c.seq == middle.seq),
        sa.update(audit_events)
        .where(audit_events.c.seq == later["seq"])
        .values(prev_hash=later["prev_hash"], hash=relinked),
    )

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert answer["ok"] is False
    assert answer["problem"] == "checkpoint_mismatch"


# -- events from before the chain was keyed -------------------------------------------------------


def append_unkeyed(count: int) -> None:
    """Events as the code before the keyed chain wrote them (plain SHA-256, hash_version 1)."""
    from datetime import UTC, datetime
    from uuid import uuid4

    prev = audit.GENESIS_HASH
    with get_engine().begin() as conn:
        for n in range(count):
            event = {
                "id": uuid4(),
                "occurred_at": datetime(2026, 1, 1, n, tzinfo=UTC),
                "actor": "system:old",
                "action": "user.registered",
                "entity_type": "user",
                "entity_id": str(uuid4()),
                "data": {},
                "request_id": None,
                "prev_hash": prev,
                "hash_version": audit.UNKEYED,
            }
            event["hash"] = audit.chain_hash(prev, event, key=None)
            conn.execute(audit_events.insert().values(**event))
            prev = event["hash"]


def test_old_unkeyed_events_verify_when_they_lead_the_chain_and_keyed_events_follow(releases):
    append_unkeyed(2)  # a database from before the upgrade
    developer, admin = as_role("developer")[1], as_role("admin")[1]
    create(releases, developer)

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()

    assert answer["ok"] is True
    assert answer["unkeyed"] == 2 and answer["checked"] == len(events())


def test_an_unkeyed_event_after_keyed_ones_is_reported(releases, developer, admin):
    create(releases, developer)
    newest = events()[-1]
    forged = newest._asdict() | {"actor": "someone-else", "hash_version": audit.UNKEYED}
    forged["hash"] = audit.chain_hash(newest.prev_hash, forged, key=None)
    as_superuser(
        sa.update(audit_events)
        .where(audit_events.c.seq == newest.seq)
        .values(actor="someone-else", hash_version=audit.UNKEYED, hash=forged["hash"])
    )

    answer = releases.get("/releases/audit/verify", headers=admin).get_json()

    assert answer["ok"] is False
    assert answer["problem"] in {"unkeyed_after_keyed", "checkpoint_mismatch"}
    assert answer["first_bad"] == str(newest.id)


# -- configuration ----------------------------------------------------------------------------------


def test_without_an_audit_key_outside_development_a_write_answers_503_and_writes_nothing(
    releases, developer, monkeypatch
):
    staging = load_settings(environment="staging", database_url="postgresql://u@db/x")
    assert staging.audit_key is None
    before = events()
    monkeypatch.setattr("shared.audit.service.get_settings", lambda: staging)

    response = releases.post("/releases", json={"application": "checkout", "version": "9.0.0", "title": "x"},
                             headers=developer)  # fmt: skip

    assert response.status_code == 503
    assert response.get_json()["code"] == "misconfigured"
    assert events() == before
    assert releases.get("/releases?application=checkout", headers=developer).get_json()["items"] == []


# -- the export -------------------------------------------------------------------------------------


def test_stalled_export_readers_hold_no_pooled_connection(releases, developer, admin, monkeypatch):
    monkeypatch.setattr(audit, "EXPORT_BATCH", 2)
    for minor in range(5):
        create(releases, developer, version=f"2.{minor}.0")
    pool = get_engine().pool
    stalled = []
    for _ in range(get_settings().pool_size + get_settings().db_max_overflow + 1):
        response = releases.get("/releases/audit", headers={**admin, "Accept": "application/x-ndjson"}, buffered=False)
        chunks = iter(response.response)
        assert next(chunks)  # the reader takes one page, then stops reading
        stalled.append((response, chunks))

    try:
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        answer = releases.get("/releases?application=checkout", headers=developer)
        assert answer.status_code == 200
    finally:
        for response, _ in stalled:
            response.close()


def test_the_export_streams_every_event_across_pages_in_order(releases, developer, admin, monkeypatch):
    monkeypatch.setattr(audit, "EXPORT_BATCH", 2)
    for minor in range(5):
        create(releases, developer, version=f"3.{minor}.0")

    response = releases.get("/releases/audit?entity_type=release", headers={**admin, "Accept": "application/x-ndjson"})

    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["entity_id"] for line in lines] == [str(r.entity_id) for r in events() if r.entity_type == "release"]
    assert len(lines) == 5
