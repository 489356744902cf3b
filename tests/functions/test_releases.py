"""The releases function, part 1: releases, their lifecycle, HTTP semantics, caching, audit."""

import threading
import uuid

import pytest
import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.platform.db import get_engine
from tests.factories import as_role

SHA = "a" * 40
DIGEST = "sha256:" + "b" * 64


def release_body(application="checkout", version="1.0.0", **extra):
    body = {
        "application": application,
        "version": version,
        "title": f"{application} {version}",
        "notes": "Fixes the **payment** timeout.",
        "source": {"repository": "github.com/acme/checkout", "commit_sha": SHA, "branch": "main"},
        "artifacts": [{"name": "image", "uri": "europe-docker.pkg.dev/acme/checkout:1.0.0", "digest": DIGEST}],
    }
    return body | extra


def create(client, headers, **body):
    response = client.post("/releases", json=release_body(**body), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- create -------------------------------------------------------------------------------------


def test_create_records_a_draft_with_location_and_etag(releases, developer):
    response = releases.post("/releases", json=release_body(), headers=developer)

    assert response.status_code == 201
    release = response.get_json()
    assert release["status"] == "draft"
    assert release["source"]["commit_sha"] == SHA
    assert release["artifacts"][0]["digest"] == DIGEST
    assert response.headers["Location"].endswith(f"/releases/{release['id']}")
    assert response.headers["ETag"]
    assert releases.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "checkout 1.0.0"


def test_create_can_go_straight_to_ready(releases, developer):
    assert create(releases, developer, status="ready")["status"] == "ready"


def test_create_cannot_set_status_cancelled_or_the_author(releases, developer):
    response = releases.post(
        "/releases", json=release_body(status="cancelled", created_by=str(uuid.uuid4())), headers=developer
    )

    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"status", "created_by"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"application": "Checkout"}, "application"),
        ({"application": "-checkout"}, "application"),
        ({"application": "a" * 64}, "application"),
        ({"version": "1.0"}, "version"),
        ({"version": "v1.0.0"}, "version"),
        ({"notes": "x" * (64 * 1024 + 1)}, "notes"),
        ({"title": ""}, "title"),
        ({"source": {"repository": "r", "commit_sha": "XYZ"}}, "source.commit_sha"),
        (
            {"source": {"repository": "r", "commit_sha": SHA, "committed_at": "2026-11-26T10:00:00"}},
            "source.committed_at",
        ),
        ({"artifacts": [{"name": "i", "uri": "u", "digest": "md5:abc"}]}, "artifacts.0.digest"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_fields_are_422_with_the_field_named_and_nothing_written(releases, developer, overrides, field):
    response = releases.post("/releases", json=release_body(**overrides), headers=developer)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert releases.get("/releases", headers=developer).get_json()["items"] == []


def test_short_commit_shas_are_accepted(releases, developer):
    release = create(releases, developer, source={"repository": "r", "commit_sha": "abc1234"})

    assert release["source"]["commit_sha"] == "abc1234"


def test_a_version_exists_once_per_application(releases, developer):
    create(releases, developer, version="1.0.0")
    create(releases, developer, application="billing", version="1.0.0")

    response = releases.post("/releases", json=release_body(version="1.0.0"), headers=developer)

    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate_version"


def test_two_racing_creates_of_one_version_give_one_201_and_one_409(apps, developer):
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def post():
        client = apps["releases"].test_client()
        barrier.wait()
        statuses.append(client.post("/releases", json=release_body(version="3.0.0"), headers=developer).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert sorted(statuses) == [201, 409]


def test_viewers_cannot_create(releases, viewer):
    response = releases.post("/releases", json=release_body(), headers=viewer)

    assert response.status_code == 403


def test_anonymous_callers_get_401(releases):
    response = releases.get("/releases")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- read and list ------------------------------------------------------------------------------


def test_get_unknown_release_is_404(releases, viewer):
    response = releases.get(f"/releases/{uuid.uuid4()}", headers=viewer)

    assert response.status_code == 404
    assert response.get_json()["code"] == "release_not_found"


def test_if_none_match_gives_304(releases, developer):
    release = create(releases, developer)
    first = releases.get(f"/releases/{release['id']}", headers=developer)

    again = releases.get(f"/releases/{release['id']}", headers={**developer, "If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304
    assert again.get_data() == b""


def test_sort_by_version_is_semver_precedence(releases, developer):
    for version in ["1.10.0", "1.9.0", "2.0.0-beta.2", "1.10.0-rc.1", "2.0.0-beta.11", "1.10.0-alpha"]:
        create(releases, developer, version=version)

    listed = releases.get("/releases?application=checkout&sort=-version", headers=developer).get_json()["items"]

    assert [r["version"] for r in listed] == [
        "2.0.0-beta.11",
        "2.0.0-beta.2",
        "1.10.0",
        "1.10.0-rc.1",
        "1.10.0-alpha",
        "1.9.0",
    ]


@pytest.mark.parametrize("sort", ["-created_at", "-version"])
def test_pages_stay_stable_when_releases_are_added_between_them(releases, developer, sort):
    for minor in range(5):
        create(releases, developer, version=f"1.{minor}.0")

    first = releases.get(f"/releases?limit=2&sort={sort}", headers=developer).get_json()
    create(releases, developer, version="9.0.0")  # lands before the cursor in both orders
    second = releases.get(f"/releases?limit=2&sort={sort}&cursor={first['next_cursor']}", headers=developer).get_json()
    third = releases.get(f"/releases?limit=2&sort={sort}&cursor={second['next_cursor']}", headers=developer).get_json()

    seen = [r["version"] for page in (first, second, third) for r in page["items"]]
    assert seen == ["1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    assert third["next_cursor"] is None


def test_a_cursor_that_is_not_ours_is_400(releases, viewer):
    response = releases.get("/releases?cursor=bm90LWEtY3Vyc29y", headers=viewer)

    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_cursor"


def test_filters_by_application_and_status(releases, developer):
    create(releases, developer, application="checkout", version="1.0.0", status="ready")
    create(releases, developer, application="checkout", version="1.1.0")
    create(releases, developer, application="billing", version="1.0.0", status="ready")

    ready = releases.get("/releases?application=checkout&status=ready", headers=developer).get_json()["items"]

    assert [(r["application"], r["version"]) for r in ready] == [("checkout", "1.0.0")]


def test_q_searches_title_and_notes(releases, developer):
    create(releases, developer, version="1.0.0", notes="Rotates the signing certificates.")
    create(releases, developer, version="1.1.0", title="Faster checkout page")

    by_notes = releases.get("/releases?q=certificate", headers=developer).get_json()["items"]
    by_title = releases.get("/releases?q=faster", headers=developer).get_json()["items"]

    assert [r["version"] for r in by_notes] == ["1.0.0"]
    assert [r["version"] for r in by_title] == ["1.1.0"]


def test_unknown_query_parameters_are_rejected(releases, viewer):
    response = releases.get("/releases?colour=blue", headers=viewer)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "colour"


# -- edit, delete, lifecycle --------------------------------------------------------------------


def test_patch_edits_a_draft(releases, developer):
    release = create(releases, developer)

    response = releases.patch(f"/releases/{release['id']}", json={"title": "Better title"}, headers=developer)

    assert response.status_code == 200
    assert response.get_json()["title"] == "Better title"
    assert releases.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "Better title"


def test_patch_cannot_change_version_or_status(releases, developer):
    release = create(releases, developer)

    response = releases.patch(
        f"/releases/{release['id']}", json={"version": "2.0.0", "status": "ready"}, headers=developer
    )

    assert response.status_code == 422


def test_a_ready_release_can_no_longer_be_edited_or_deleted(releases, developer):
    release = create(releases, developer, status="ready")

    patched = releases.patch(f"/releases/{release['id']}", json={"title": "x"}, headers=developer)
    deleted = releases.delete(f"/releases/{release['id']}", headers=developer)

    assert patched.status_code == deleted.status_code == 409
    assert patched.get_json()["code"] == "release_not_editable"


def test_a_stale_if_match_is_412_and_changes_nothing(releases, developer):
    release = create(releases, developer)
    etag = releases.get(f"/releases/{release['id']}", headers=developer).headers["ETag"]
    releases.patch(f"/releases/{release['id']}", json={"title": "First edit"}, headers=developer)

    stale = releases.patch(
        f"/releases/{release['id']}", json={"title": "Second edit"}, headers={**developer, "If-Match": etag}
    )

    assert stale.status_code == 412
    assert releases.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "First edit"


def test_a_current_if_match_lets_the_edit_through(releases, developer):
    release = create(releases, developer)
    etag = releases.get(f"/releases/{release['id']}", headers=developer).headers["ETag"]

    response = releases.patch(
        f"/releases/{release['id']}", json={"title": "Edit"}, headers={**developer, "If-Match": etag}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] != etag


def test_delete_removes_a_draft(releases, developer):
    release = create(releases, developer)

    assert releases.delete(f"/releases/{release['id']}", headers=developer).status_code == 204
    assert releases.get(f"/releases/{release['id']}", headers=developer).status_code == 404


def test_finalize_then_cancel_with_a_reason(releases, developer):
    release = create(releases, developer)

    finalized = releases.post(f"/releases/{release['id']}/finalize", headers=developer)
    cancelled = releases.post(
        f"/releases/{release['id']}/cancel", json={"reason": "CVE in base image"}, headers=developer
    )

    assert finalized.status_code == 200 and finalized.get_json()["status"] == "ready"
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancel_reason"] == "CVE in base image"


def test_illegal_transitions_are_409(releases, developer):
    release = create(releases, developer, status="ready")

    response = releases.post(f"/releases/{release['id']}/finalize", headers=developer)

    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"


def test_cancel_needs_a_reason(releases, developer):
    release = create(releases, developer)

    assert releases.post(f"/releases/{release['id']}/cancel", json={}, headers=developer).status_code == 422


# -- idempotency --------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_replays_the_first_response(releases, developer):
    headers = {**developer, "Idempotency-Key": "pipeline-run-77"}
    first = releases.post("/releases", json=release_body(), headers=headers)

    second = releases.post("/releases", json=release_body(), headers=headers)

    assert second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert len(releases.get("/releases", headers=developer).get_json()["items"]) == 1


def test_the_same_key_with_another_body_is_422(releases, developer):
    headers = {**developer, "Idempotency-Key": "pipeline-run-78"}
    releases.post("/releases", json=release_body(), headers=headers)

    response = releases.post("/releases", json=release_body(version="2.0.0"), headers=headers)

    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"


def test_keys_belong_to_their_caller(releases, developer):
    other = as_role("developer")[1]
    releases.post("/releases", json=release_body(), headers={**developer, "Idempotency-Key": "k"})

    response = releases.post("/releases", json=release_body(version="2.0.0"), headers={**other, "Idempotency-Key": "k"})

    assert response.status_code == 201


def test_the_same_key_arriving_twice_at_once_creates_one_release(apps, developer):
    headers = {**developer, "Idempotency-Key": "simultaneous"}
    responses = []
    barrier = threading.Barrier(2)

    def post():
        client = apps["releases"].test_client()
        barrier.wait()
        responses.append(client.post("/releases", json=release_body(), headers=headers))

    threads = [threading.Thread(target=post) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].get_json()["id"] == responses[1].get_json()["id"]


def test_a_failed_create_is_not_remembered_for_its_key(releases, developer):
    headers = {**developer, "Idempotency-Key": "retry-me"}
    create(releases, developer, version="1.0.0")
    assert releases.post("/releases", json=release_body(version="1.0.0"), headers=headers).status_code == 409
    releases.delete(
        f"/releases/{releases.get('/releases', headers=developer).get_json()['items'][0]['id']}", headers=developer
    )

    assert releases.post("/releases", json=release_body(version="1.0.0"), headers=headers).status_code == 201


def test_an_overlong_idempotency_key_is_400(releases, developer):
    response = releases.post("/releases", json=release_body(), headers={**developer, "Idempotency-Key": "k" * 256})

    assert response.status_code == 400


# -- caching ------------------------------------------------------------------------------------


def test_a_client_reads_its_own_write_through_another_instance(apps, developer):
    import functions_framework

    from tests.services import ROOT

    other_instance = functions_framework.create_app("releases", str(ROOT / "functions" / "releases" / "main.py"))
    one, two = apps["releases"].test_client(), other_instance.test_client()
    release = create(one, developer)
    assert two.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "checkout 1.0.0"  # cached
    assert len(two.get("/releases", headers=developer).get_json()["items"]) == 1  # cached

    one.patch(f"/releases/{release['id']}", json={"title": "Renamed"}, headers=developer)
    create(one, developer, version="1.1.0")

    assert two.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "Renamed"
    assert len(two.get("/releases", headers=developer).get_json()["items"]) == 2


def test_answers_stay_correct_with_redis_stopped(releases, developer, monkeypatch):
    from tests.servers import throwaway_redis
    from tests.services import reset_instance_state

    with throwaway_redis() as server:
        # This instance's cache is the throwaway Redis, for every part of the request path.
        monkeypatch.setenv("REDIS_URL", server.url)
        monkeypatch.setenv("REDIS_RETRY_AFTER_S", "0")
        reset_instance_state()
        try:
            release = create(releases, developer)
            releases.get(f"/releases/{release['id']}", headers=developer)  # cached in the throwaway Redis

            server.stop()
            renamed = releases.patch(f"/releases/{release['id']}", json={"title": "During outage"}, headers=developer)

            assert renamed.status_code == 200
            assert releases.get(f"/releases/{release['id']}", headers=developer).get_json()["title"] == "During outage"
            assert len(releases.get("/releases", headers=developer).get_json()["items"]) == 1
        finally:
            monkeypatch.undo()
            reset_instance_state()


# -- query budget -------------------------------------------------------------------------------


class StatementCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        self.count += 1


@pytest.fixture
def count_statements():
    counter = StatementCounter()
    sa.event.listen(get_engine(), "before_cursor_execute", counter)
    yield counter
    sa.event.remove(get_engine(), "before_cursor_execute", counter)


def test_a_list_page_costs_the_same_few_statements_whatever_its_size(releases, developer, count_statements):
    for minor in range(30):
        create(releases, developer, version=f"1.{minor}.0")
    from shared.platform.cache import get_cache

    get_cache().invalidate("releases")

    count_statements.count = 0
    releases.get("/releases?limit=5", headers=developer)
    small = count_statements.count
    count_statements.count = 0
    releases.get("/releases?limit=30&sort=-version", headers=developer)
    large = count_statements.count

    assert small == large <= 2


def test_a_single_read_costs_a_fixed_small_number_of_statements(releases, developer, count_statements):
    release = create(releases, developer)
    from shared.platform.cache import get_cache

    get_cache().invalidate(f"release:{release['id']}")

    count_statements.count = 0
    releases.get(f"/releases/{release['id']}", headers=developer)

    assert count_statements.count == 1  # the release with its deployment summary


def test_a_read_from_the_database_is_one_statement_on_its_own_without_begin_or_commit(releases, developer):
    release = create(releases, developer)
    from shared.platform.cache import get_cache

    get_cache().invalidate(f"release:{release['id']}")
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, *args):
        seen.append((statement, conn.connection.dbapi_connection.autocommit))

    sa.event.listen(get_engine(), "before_cursor_execute", record)
    try:
        response = releases.get(f"/releases/{release['id']}", headers=developer)
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", record)

    assert response.status_code == 200
    [(statement, on_its_own)] = seen
    assert on_its_own  # the driver sends no BEGIN before it, and there is nothing to COMMIT
    assert "%" not in statement  # no parameters: the simple query protocol, one round trip


def test_the_deployment_summary_read_with_the_release_is_what_a_write_answers(releases, developer):
    release = create(releases, developer, status="ready")
    from shared.platform.cache import get_cache

    deployed = releases.post(f"/releases/{release['id']}/deployments", json={"environment": "dev"}, headers=developer)
    assert deployed.status_code == 201, deployed.get_json()
    edited = releases.post(f"/releases/{release['id']}/cancel", json={"reason": "bad build"}, headers=developer)
    get_cache().invalidate(f"release:{release['id']}")

    read = releases.get(f"/releases/{release['id']}", headers=developer)

    assert read.get_data() == edited.get_data()
    assert read.headers["ETag"] == edited.headers["ETag"]
    assert read.get_json()["deployments"]["dev"]["status"] == "cancelled"


def test_a_cached_read_costs_one_redis_round_trip_and_no_sql(releases, developer, count_statements, monkeypatch):
    from shared.platform.cache import get_cache

    release = create(releases, developer)
    releases.get(f"/releases/{release['id']}", headers=developer)  # fills the cache
    client = get_cache().client
    commands: list[str] = []
    original = client.execute_command

    def recording(*args, **kwargs):
        commands.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", recording)
    count_statements.count = 0

    response = releases.get(f"/releases/{release['id']}", headers=developer)

    assert response.get_json()["id"] == release["id"]
    assert commands == ["MGET"]  # the caller's state and the release, together
    assert count_statements.count == 0


# -- audit --------------------------------------------------------------------------------------


def test_each_change_is_an_audit_event_on_the_release_timeline(releases, developer):
    release = create(releases, developer)
    releases.patch(f"/releases/{release['id']}", json={"notes": "More"}, headers=developer)
    releases.post(f"/releases/{release['id']}/finalize", headers=developer)

    events = releases.get(f"/releases/{release['id']}/events", headers=developer).get_json()["items"]

    assert [e["action"] for e in events] == ["release.created", "release.updated", "release.finalized"]
    assert all(e["request_id"] for e in events)
    assert events[0]["actor"] == release["created_by"]


def test_the_audit_log_is_for_admins_and_filterable(releases, developer):
    _, admin = as_role("admin")
    create(releases, developer)

    assert releases.get("/releases/audit", headers=developer).status_code == 403
    events = releases.get("/releases/audit?entity_type=release", headers=admin).get_json()["items"]
    assert [e["action"] for e in events] == ["release.created"]


def test_the_audit_log_streams_as_ndjson(releases, developer):
    import json

    _, admin = as_role("admin")
    for minor in range(3):
        create(releases, developer, version=f"1.{minor}.0")

    response = releases.get("/releases/audit?entity_type=release", headers={**admin, "Accept": "application/x-ndjson"})

    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["action"] for line in lines] == ["release.created"] * 3


def test_verify_passes_on_an_untouched_log_and_finds_an_edit_made_behind_the_api(releases, developer):
    _, admin = as_role("admin")
    for minor in range(3):
        create(releases, developer, version=f"1.{minor}.0")
    assert releases.get("/releases/audit/verify", headers=admin).get_json()["ok"] is True

    with get_engine().begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # a superuser bypassing the trigger
        victim = conn.scalar(sa.select(audit_events.c.id).order_by(audit_events.c.seq).offset(2).limit(1))
        conn.execute(sa.update(audit_events).where(audit_events.c.id == victim).values(actor="someone-else"))

    result = releases.get("/releases/audit/verify", headers=admin).get_json()
    assert result["ok"] is False
    assert result["first_bad"] == str(victim)


def test_verify_finds_a_deleted_event(releases, developer):
    _, admin = as_role("admin")
    for minor in range(3):
        create(releases, developer, version=f"1.{minor}.0")

    with get_engine().begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        victim = conn.scalar(sa.select(audit_events.c.seq).order_by(audit_events.c.seq).offset(1).limit(1))
        conn.execute(sa.delete(audit_events).where(audit_events.c.seq == victim))

    assert releases.get("/releases/audit/verify", headers=admin).get_json()["ok"] is False


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"]
)
def test_the_database_refuses_to_rewrite_history(releases, developer, statement):
    create(releases, developer)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), get_engine().begin() as conn:
        conn.execute(sa.text(statement))


def test_patch_refuses_null_for_required_content_but_may_clear_the_source(releases, developer):
    release = create(releases, developer)

    nulled = releases.patch(f"/releases/{release['id']}", json={"title": None}, headers=developer)
    cleared = releases.patch(f"/releases/{release['id']}", json={"source": None}, headers=developer)

    assert nulled.status_code == 422
    assert nulled.get_json()["errors"] == [{"field": "title", "message": "may not be null"}]
    assert cleared.status_code == 200 and cleared.get_json()["source"] is None


def test_a_list_page_of_long_notes_is_served_but_not_stored_whole_in_redis(releases, developer):
    from shared.platform.cache import get_cache

    for minor in range(50):
        create(releases, developer, version=f"1.{minor}.0", notes="n" * (64 * 1024))

    first = releases.get("/releases?limit=50", headers=developer)
    again = releases.get("/releases?limit=50", headers=developer)

    assert first.status_code == again.status_code == 200
    assert len(again.get_json()["items"]) == 50
    cache = get_cache()
    sizes = [cache.client.strlen(key) for key in cache.client.scan_iter(match=f"{cache.prefix}:*")]
    # The page weighs 3.3 MB; the default limit on one entry is 256 KiB.
    assert max(sizes) < 512 * 1024
