"""DORA metrics on a hand-built production history whose answers were worked out on paper.

History of `shop` in production (times UTC, November 2026; "now" is the 26th, 12:00):
  D0  R0 deploy   succeeded   finished Oct 01          (outside the 30-day window)
  D1  R1 deploy   succeeded   finished Nov 02 00:00    committed Nov 01 00:00 -> lead 24 h
  D2  R2 deploy   rolled_back finished Nov 06 00:00    committed Nov 05 00:00 -> lead 24 h
  D3  R1 rollback succeeded   finished Nov 06 02:00    replaces D2            -> D2 restored in 2 h
  D4  R3 deploy   failed      finished Nov 11 00:00                           -> restored by D5 in 30 h
  D5  R4 deploy   succeeded   finished Nov 12 06:00    committed Nov 12 00:00 -> lead 6 h
  D6  R5 deploy   succeeded   finished Nov 21 00:00    committed Nov 19 00:00 -> lead 48 h
On paper:
  deployment frequency = 4 successful deploys (D1, D2, D5, D6) / 30 days = 0.1333 per day
  lead time: [6, 24, 24, 48] h -> p50 24.0, p90 = 24 + 0.7 * (48 - 24) = 40.8
  change failure rate = 2 failures (D2 rolled back, D4 failed) / 5 deploys = 0.4
  time to restore: [2, 30] h -> p50 16.0
  rework = D3 (a rollback), D4 (follows a rollback), D5 (follows a failure) = 3 / 6 finished = 0.5
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from shared.deployments import metrics as dora
from shared.deployments.tables import deployments
from shared.platform.db import get_engine
from shared.platform.work import unit_of_work
from shared.releases.rules import version_sort_key
from shared.releases.tables import releases

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AUTHOR = uuid.uuid4()


def at(month, day, hour=0):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def release(conn, version, committed):
    release_id = uuid.uuid4()
    conn.execute(
        sa.insert(releases).values(
            id=release_id,
            application="shop",
            version=version,
            version_key=version_sort_key(version),
            title=version,
            status="ready",
            source={"repository": "r", "commit_sha": "a" * 40, "committed_at": committed.isoformat()},
            created_by=AUTHOR,
            created_at=committed,
            updated_at=committed,
        )
    )
    return release_id


def deployment(conn, release_id, status, finished, kind="deploy", replaces=None, environment="production"):
    deployment_id = uuid.uuid4()
    conn.execute(
        sa.insert(deployments).values(
            id=deployment_id,
            release_id=release_id,
            application="shop",
            version="x",
            environment=environment,
            kind=kind,
            status=status,
            requested_by=AUTHOR,
            replaces_id=replaces,
            created_at=finished,
            updated_at=finished,
            started_at=finished,
            finished_at=finished,
        )
    )
    return deployment_id


def build_history():
    with get_engine().begin() as conn:
        r0, r1, r2 = (
            release(conn, "0.9.0", at(9, 30)),
            release(conn, "1.0.0", at(11, 1)),
            release(conn, "1.1.0", at(11, 5)),
        )
        r3, r4, r5 = (
            release(conn, "1.2.0", at(11, 10)),
            release(conn, "1.2.1", at(11, 12)),
            release(conn, "1.3.0", at(11, 19)),
        )
        deployment(conn, r0, "succeeded", at(10, 1))
        deployment(conn, r1, "succeeded", at(11, 2))
        d2 = deployment(conn, r2, "rolled_back", at(11, 6))
        deployment(conn, r1, "succeeded", at(11, 6, 2), kind="rollback", replaces=d2)
        deployment(conn, r3, "failed", at(11, 11))
        deployment(conn, r4, "succeeded", at(11, 12, 6))
        deployment(conn, r5, "succeeded", at(11, 21))
        deployment(conn, r5, "succeeded", at(11, 20), environment="staging")  # another stage: not counted


def test_dora_metrics_match_the_figures_worked_out_on_paper():
    build_history()

    with unit_of_work(now=NOW) as work:
        found = dora.metrics(work, application="shop", environment="production", days=30)

    assert found["deployment_frequency"] == {"per_day": 0.1333, "deployments": 4, "days": 30}
    assert found["lead_time_for_changes"] == {"p50_hours": 24.0, "p90_hours": 40.8, "deployments": 4}
    assert found["change_failure_rate"] == {"rate": 0.4, "failures": 2, "deployments": 5}
    assert found["time_to_restore"] == {"p50_hours": 16.0, "restores": 2, "failures": 2}
    assert found["rework_rate"] == {"rate": 0.5, "rework": 3, "deployments": 6}


def test_a_window_with_no_deployments_has_zero_counts_and_no_rates():
    with unit_of_work(now=NOW) as work:
        found = dora.metrics(work, application="shop", environment="production", days=7)

    assert found["deployment_frequency"]["deployments"] == 0
    assert found["change_failure_rate"]["rate"] is None
    assert found["lead_time_for_changes"]["p50_hours"] is None


def test_metrics_are_served_over_http(apps):
    from tests.factories import as_role

    build_history()
    _, viewer = as_role("viewer")

    response = apps["releases"].test_client().get("/releases/metrics?application=shop&days=365", headers=viewer)

    assert response.status_code == 200
    assert response.get_json()["deployment_frequency"]["deployments"] == 5  # D0 is inside a year
