"""Where the audit log's head is anchored: a JSON-lines file locally, Cloud Logging in Cloud.

Boundary faked: the Cloud Logging API (no GCP project or credentials here). The real
`google-cloud-logging` client, on its JSON API with anonymous credentials, talks HTTP to the local
stand-in of tests/google_apis.py, which answers `entries:list` the way the API does (the filter
applied, oldest first, in pages); everything on our side of the wire is real. The write side needs
no fake: it is one line on stdout, which Cloud Run hands to Cloud Logging, where the log sink in
terraform/audit.tf matches it (`GoogleApis.route_stdout` plays both).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from shared.audit import service as audit
from shared.audit.checkpoints import (
    CHECKPOINT_MESSAGE,
    Checkpoint,
    CloudLoggingSink,
    FileSink,
    Throttle,
    checkpoint_filter,
    checkpoint_mac,
    sink_for,
)
from shared.audit.tables import audit_anchor, audit_events
from shared.errors import Unavailable
from shared.platform.cache import Cache, get_cache
from shared.platform.db import get_engine
from shared.platform.settings import DEV_AUDIT_KEY, ConfigError, load_settings
from shared.platform.work import unit_of_work
from tests.functions.test_audit import as_superuser, events
from tests.google_apis import GoogleApis

VIEW = "projects/demo/locations/europe-west1/buckets/rm-staging-audit/views/checkpoints"
HASHES = ["a" * 64, "b" * 64, "c" * 64]
KEY = DEV_AUDIT_KEY.encode()  # the test environment's AUDIT_KEY
FULL_READ = f'jsonPayload.message="{CHECKPOINT_MESSAGE}" AND timestamp>="1970-01-01T00:00:00Z"'


@pytest.fixture
def cloud_logging() -> Iterator[GoogleApis]:
    with GoogleApis() as apis:
        yield apis


@pytest.fixture
def in_cloud(cloud_logging: GoogleApis, monkeypatch: pytest.MonkeyPatch) -> GoogleApis:
    """Audit events appended and verified with the Cloud Logging sink, read through the stand-in."""
    settings = load_settings(audit_checkpoints=f"logging:{VIEW}", logging_endpoint=cloud_logging.url)
    monkeypatch.setattr("shared.audit.service.get_settings", lambda: settings)
    return cloud_logging


def entry(seq: int, digest: str, *, mac: str | None = None) -> dict[str, Any]:
    """A checkpoint line's payload as the function prints it (a true MAC unless one is given)."""
    fields = {"seq": str(seq), "hash": digest, "mac": mac or checkpoint_mac(KEY, Checkpoint(seq, digest))}
    return {"severity": "NOTICE", "message": CHECKPOINT_MESSAGE, "audit_checkpoint": fields}


def append(apis: GoogleApis, capsys: pytest.CaptureFixture[str], count: int, *, ago: timedelta) -> int:
    """`count` commits that append an event; their checkpoint lines reach the view timestamped `ago`."""
    for n in range(count):
        with unit_of_work() as work:
            audit.record(work, actor="system:test", action="test.recorded", entity_type="test", entity_id=n)
    return apis.route_stdout(VIEW, capsys.readouterr().out, at=datetime.now(UTC) - ago)


def verify() -> dict[str, Any]:
    with unit_of_work() as work:
        return audit.verify_now(work.conn)


# -- reading and writing --------------------------------------------------------------------------


def test_cloud_checkpoints_are_read_back_through_the_locked_buckets_view_page_by_page(cloud_logging, monkeypatch):
    monkeypatch.setattr("shared.audit.checkpoints.LOGGING_PAGE_SIZE", 2)
    for n, digest in enumerate(HASHES):
        cloud_logging.log_entry(VIEW, entry(n + 1, digest))
    cloud_logging.log_entry(VIEW, {"message": "something else"})
    sink = sink_for(load_settings(audit_checkpoints=f"logging:{VIEW}", logging_endpoint=cloud_logging.url))

    found = sink.read()

    assert found.checkpoints == [Checkpoint(n + 1, h) for n, h in enumerate(HASHES)] and found.ignored == 0
    assert len(cloud_logging.entries_lists) == 2  # two pages
    assert cloud_logging.entries_lists[0]["resourceNames"] == [VIEW]
    # Every checkpoint the bucket keeps, not only the last day's (the client's default).
    assert cloud_logging.entries_lists[0]["filter"] == FULL_READ


def test_unreadable_cloud_checkpoints_are_a_503_not_an_error(cloud_logging):
    cloud_logging.logging_status = 503
    sink = CloudLoggingSink(VIEW, key=KEY, endpoint=cloud_logging.url)

    with pytest.raises(Unavailable) as raised:
        sink.read()

    assert raised.value.code == "checkpoints_unavailable" and raised.value.retry_after


def test_a_cloud_checkpoint_is_one_structured_stdout_line_that_the_log_sink_matches(capsys, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # the line must not depend on the log level

    CloudLoggingSink(VIEW, key=KEY).write(Checkpoint(42, HASHES[0]))

    (line,) = capsys.readouterr().out.splitlines()
    printed = json.loads(line)
    assert printed["message"] == CHECKPOINT_MESSAGE  # terraform/audit.tf's sink filter
    assert printed["audit_checkpoint"] == {
        "seq": "42",
        "hash": HASHES[0],
        "mac": checkpoint_mac(KEY, Checkpoint(42, HASHES[0])),
    }
    assert printed["audit_checkpoint"]["mac"] != checkpoint_mac(b"k" * 32, Checkpoint(42, HASHES[0]))


def test_the_file_sink_appends_and_skips_a_torn_line_and_one_without_a_true_mac(tmp_path):
    sink = FileSink(tmp_path / "deep" / "checkpoints.jsonl", key=KEY)
    sink.write(Checkpoint(1, HASHES[0]))
    with sink.path.open("a") as handle:
        handle.write('{"seq": 2, "ha')  # a crash mid-write
    sink.write(Checkpoint(3, HASHES[2]))
    with sink.path.open("a") as handle:
        handle.write(json.dumps({"seq": 4, "hash": HASHES[1], "mac": "0" * 64}) + "\n")  # forged

    found = sink.read()

    assert found.checkpoints == [Checkpoint(1, HASHES[0]), Checkpoint(3, HASHES[2])]
    assert found.ignored == 2
    # A read from the cursor sees only what was written after it.
    sink.write(Checkpoint(5, HASHES[0]))
    assert sink.read(after=found.cursor).checkpoints == [Checkpoint(5, HASHES[0])]


def test_outside_development_the_checkpoint_sink_must_be_configured():
    staging = load_settings(environment="staging", database_url="postgresql://u@db/x")

    with pytest.raises(ConfigError, match="AUDIT_CHECKPOINTS"):
        sink_for(staging.model_copy(update={"audit_checkpoints": None}))


# -- verify against Cloud Logging -----------------------------------------------------------------


def test_a_forged_checkpoint_in_the_bucket_is_ignored_and_counted_and_cannot_fail_verify(in_cloud, capsys):
    # Anyone with logging.logWriter can route an entry into the locked bucket: one claiming a head
    # far beyond the table's would otherwise read as "events removed" for the bucket's 400 days.
    append(in_cloud, capsys, 3, ago=timedelta(0))
    head = events()[-1]
    in_cloud.log_entry(VIEW, entry(head.seq + 100, HASHES[0], mac="f" * 64))
    in_cloud.log_entry(VIEW, entry(head.seq, HASHES[1], mac="0" * 64))  # a conflicting hash for the head

    answer = verify()

    assert answer["ok"] is True and answer["problem"] is None
    assert answer["ignored_checkpoints"] == 2
    assert answer["checkpoints"] == 3
    assert answer["last_checkpoint"] == {"seq": head.seq, "hash": head.hash}


def test_a_second_verify_reads_only_the_checkpoints_written_after_the_anchor(in_cloud, capsys):
    append(in_cloud, capsys, 3, ago=timedelta(hours=2))
    append(in_cloud, capsys, 1, ago=timedelta(hours=1))
    first = verify()
    anchored = events()[-1]
    assert first["ok"] is True and first["anchor"] is None and first["checkpoints"] == 4
    assert in_cloud.entries_lists[-1]["filter"] == FULL_READ
    with get_engine().connect() as conn:
        cursor = conn.scalar(sa.select(audit_anchor.c.cursor))
    served = in_cloud.entries_served

    append(in_cloud, capsys, 2, ago=timedelta(0))
    second = verify()

    # From a little before the anchor's entry (Logging's late arrivals), not from 1970: the two new
    # checkpoints and the anchor's own, none of the three from two hours ago.
    assert in_cloud.entries_lists[-1]["filter"] == checkpoint_filter(cursor)
    assert in_cloud.entries_served - served == 3
    assert second["ok"] is True and second["checked"] == len(events())
    assert second["anchor"] == {"seq": anchored.seq, "hash": anchored.hash}
    assert second["checkpoints"] == 3
    assert second["last_checkpoint"]["seq"] == events()[-1].seq


def test_after_an_incremental_read_verify_still_reports_removed_and_rewritten_events(in_cloud, capsys):
    append(in_cloud, capsys, 3, ago=timedelta(hours=1))
    assert verify()["ok"] is True
    append(in_cloud, capsys, 2, ago=timedelta(0))
    rows = events()

    as_superuser(sa.delete(audit_events).where(audit_events.c.seq == rows[-1].seq))
    removed = verify()
    assert removed["anchor"] is not None  # an incremental read ...
    assert removed["ok"] is False and removed["problem"] == "events_removed"  # ... still sees the removal

    # An event older than the anchor, edited without the key: the chain is recomputed from the start.
    as_superuser(sa.update(audit_events).where(audit_events.c.seq == rows[0].seq).values(actor="someone-else"))
    edited = verify()
    assert edited["ok"] is False and edited["problem"] == "hash_mismatch" and edited["first_bad"] == rows[0].id


def test_an_anchor_moved_without_the_key_is_ignored_and_verify_reads_every_checkpoint(in_cloud, capsys):
    append(in_cloud, capsys, 3, ago=timedelta(hours=2))
    assert verify()["ok"] is True
    rows = events()
    # A database owner removes the newest event and moves the anchor past the checkpoint that
    # records it, so that an incremental read would never see that checkpoint again.
    as_superuser(
        sa.delete(audit_events).where(audit_events.c.seq == rows[-1].seq),
        sa.update(audit_anchor).values(seq=rows[-2].seq, hash=rows[-2].hash, cursor=datetime.now(UTC).isoformat()),
    )

    answer = verify()

    assert in_cloud.entries_lists[-1]["filter"] == FULL_READ
    assert answer["anchor"] is None
    assert answer["ok"] is False and answer["problem"] == "events_removed"
    assert f"a checkpoint records seq {rows[-1].seq}" in answer["detail"]


# -- at most one checkpoint per interval ----------------------------------------------------------


def test_instances_sharing_redis_claim_one_checkpoint_per_interval_between_them():
    auth_instance, releases_instance = Throttle(60, get_cache()), Throttle(60, get_cache())

    assert [auth_instance.claim(), releases_instance.claim(), auth_instance.claim()] == [True, False, False]
    assert Throttle(0, get_cache()).claim() is True  # AUDIT_CHECKPOINT_INTERVAL=0: every commit writes


def test_with_redis_down_each_instance_keeps_the_interval_itself_and_nothing_raises():
    now = [1000.0]
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    throttle = Throttle(10, Cache(unreachable, cooldown_s=0, clock=lambda: now[0]), clock=lambda: now[0])

    assert [throttle.claim(), throttle.claim()] == [True, False]
    now[0] += 10
    assert throttle.claim() is True
    assert Throttle(10, Cache(None)).claim() is True  # no Redis configured at all
