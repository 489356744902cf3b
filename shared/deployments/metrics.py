"""The DORA metrics of an environment, computed in SQL: the query, the answer and the figures.

Definitions (also in docs/api.md, "DORA metrics: what counts"):
- A *deployment* counts once it has finished: `succeeded`, `failed` or `rolled_back` (a success
  later rolled back). Windows select by `finished_at`.
- Deployment frequency: successful deploys (kind `deploy`, `succeeded` or `rolled_back`) per day.
- Lead time for changes: for each successful deploy, from the release's commit time
  (`source.committed_at`, else the release's creation) to the deploy finishing; p50 and p90, hours.
- Change failure rate: deploys that `failed` or were `rolled_back`, over all finished deploys.
- Time to restore: for a rolled-back deploy, from when it went live until the rollback that
  replaced it succeeded; for a failed deploy, from its failure until the next success in that
  environment. p50, hours; unrestored failures are counted but have no time yet.
- Stage skips (not a DORA figure): finished deploys whose request took the hotfix lane, over all
  finished deploys.
- Automation (not a DORA figure): finished deploys a stage's rule requested (auto-promotion or a
  release train), over all finished deploys; and finished rollbacks a stage's auto-rollback requested.
- Drift (not a DORA figure): images Cloud Run or GKE showed deployed there that no deployment which
  passed the gates ran (shared/deployments/drift.py), by when they were observed.
- Rework rate: the share of finished deployments that were rollbacks, or deploys following a
  failure (the previous deployment there failed, was rolled back, or was itself a rollback).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.deployments.drift import drift_count
from shared.platform.work import UnitOfWork

_METRICS = sa.text(
    """
    WITH finished AS (
        SELECT d.id, d.application, d.kind, d.status, d.created_at, d.finished_at, d.replaces_id, d.requested_by_rule,
               cardinality(d.skipped_stages) > 0 AS skipped,
               COALESCE((r.source ->> 'committed_at')::timestamptz, r.created_at) AS committed_at
        FROM deployments d JOIN releases r ON r.id = d.release_id
        WHERE d.environment = :environment
          AND (CAST(:application AS text) IS NULL OR d.application = :application)
          AND d.status IN ('succeeded', 'failed', 'rolled_back')
          AND d.finished_at < :until
    ), annotated AS (
        SELECT f.*,
               LAG(f.status) OVER history AS previous_status,
               LAG(f.kind) OVER history AS previous_kind,
               CASE
                 WHEN f.status = 'rolled_back' THEN (
                   SELECT min(rb.finished_at) FROM deployments rb
                   WHERE rb.replaces_id = f.id AND rb.status IN ('succeeded', 'rolled_back')
                     AND rb.finished_at < :until)
                 WHEN f.status = 'failed' THEN (
                   SELECT min(n.finished_at) FROM finished n
                   WHERE n.application = f.application AND n.status IN ('succeeded', 'rolled_back')
                     AND n.finished_at > f.finished_at)
               END AS restored_at
        FROM finished f
        WINDOW history AS (PARTITION BY f.application ORDER BY f.finished_at, f.created_at)
    ), scoped AS (
        SELECT * FROM annotated WHERE finished_at >= :since
    )
    SELECT
        count(*) AS finished,
        count(*) FILTER (WHERE kind = 'deploy') AS deploys,
        count(*) FILTER (WHERE kind = 'deploy' AND skipped) AS skips,
        count(*) FILTER (WHERE kind = 'deploy' AND requested_by_rule IS NOT NULL) AS promoted,
        count(*) FILTER (WHERE kind = 'rollback' AND requested_by_rule = 'auto_rollback') AS auto_rollbacks,
        count(*) FILTER (WHERE kind = 'deploy' AND status IN ('succeeded', 'rolled_back')) AS successful_deploys,
        count(*) FILTER (WHERE kind = 'deploy' AND status IN ('failed', 'rolled_back')) AS failures,
        count(*) FILTER (WHERE kind = 'deploy' AND status IN ('failed', 'rolled_back') AND restored_at IS NOT NULL)
            AS restores,
        count(*) FILTER (
            WHERE kind = 'rollback' OR previous_status IN ('failed', 'rolled_back') OR previous_kind = 'rollback'
        ) AS rework,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - committed_at))
            FILTER (WHERE kind = 'deploy' AND status IN ('succeeded', 'rolled_back')) / 3600 AS lead_p50,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - committed_at))
            FILTER (WHERE kind = 'deploy' AND status IN ('succeeded', 'rolled_back')) / 3600 AS lead_p90,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM restored_at - finished_at))
            FILTER (WHERE kind = 'deploy' AND status IN ('failed', 'rolled_back') AND restored_at IS NOT NULL)
            / 3600 AS restore_p50
    FROM scoped
    """
)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _hours(value: Any) -> float | None:
    return round(float(value), 2) if value is not None else None


def metrics(work: UnitOfWork, *, application: str | None, environment: str, days: int) -> dict[str, Any]:
    """The five DORA figures over the last `days` days, each with the counts behind it."""
    since, until = work.now - timedelta(days=days), work.now
    row = work.conn.execute(
        _METRICS, {"environment": environment, "application": application, "since": since, "until": until}
    ).one()
    return {
        "application": application,
        "environment": environment,
        "days": days,
        "since": since,
        "until": until,
        "deployment_frequency": {
            "per_day": round(row.successful_deploys / days, 4),
            "deployments": row.successful_deploys,
            "days": days,
        },
        "lead_time_for_changes": {
            "p50_hours": _hours(row.lead_p50),
            "p90_hours": _hours(row.lead_p90),
            "deployments": row.successful_deploys,
        },
        "change_failure_rate": {
            "rate": _ratio(row.failures, row.deploys),
            "failures": row.failures,
            "deployments": row.deploys,
        },
        "time_to_restore": {"p50_hours": _hours(row.restore_p50), "restores": row.restores, "failures": row.failures},
        "rework_rate": {"rate": _ratio(row.rework, row.finished), "rework": row.rework, "deployments": row.finished},
        "stage_skips": {"rate": _ratio(row.skips, row.deploys), "skips": row.skips, "deployments": row.deploys},
        "automation": {
            "rate": _ratio(row.promoted, row.deploys),
            "promoted": row.promoted,
            "rolled_back": row.auto_rollbacks,
            "deployments": row.deploys,
        },
        "drift": {
            "detected": drift_count(
                work.conn, environment=environment, application=application, since=since, until=until
            )
        },
    }
