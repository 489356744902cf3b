"""What `relman` shows people about the gates: approval rules, deploy windows and a stage's own
rules (a release train, auto-rollback) in `status` and `preflight`, the hotfix lane in `deploy`,
and what a waiting deployment still needs."""

from __future__ import annotations

import json

from tests.cli.conftest import Relman
from tests.factories import access_token, make_user
from tests.servers import DevServer, call

PATH = [
    {"environment": "dev"},
    {
        "environment": "staging",
        "soak_minutes": 30,
        "skippable_by": "admin",
        "auto_promote": True,
        "train_schedule": "0 10 * * 1-5",
        "train_timezone": "Europe/Berlin",
    },
    {
        "environment": "production",
        "approval_rules": [{"count": 1, "team": "qa"}, {"count": 1, "role": "admin"}],
        "auto_rollback": True,
    },
]
ALWAYS = [{"day": day, "start": "00:00", "end": "23:59"} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


def setup(base: str, admin: str, developer: str) -> None:
    as_admin = {"Authorization": f"Bearer {admin}"}
    assert call(base, "POST", "/auth/teams", {"name": "qa", "display_name": "QA"}, as_admin)[0] == 201
    body = {"name": "checkout", "display_name": "Checkout", "path": PATH}
    assert call(base, "POST", "/releases/applications", body, as_admin)[0] == 201
    policy = {"deploy_windows": ALWAYS, "windows_timezone": "Europe/Berlin", "outside_window": "wait"}
    assert call(base, "PUT", "/releases/environments/production/policy", policy, as_admin)[0] == 200
    release = {"application": "checkout", "version": "1.0.1", "title": "Hotfix", "status": "ready"}
    assert call(base, "POST", "/releases", release, {"Authorization": f"Bearer {developer}"})[0] == 201


def test_status_preflight_and_the_hotfix_lane_show_rules_windows_and_skips(relman: Relman, dev_server: DevServer):
    admin, developer = access_token(make_user("admin")), access_token(make_user("developer"))
    setup(dev_server.base, admin, developer)
    assert relman("run", "checkout@1.0.1", "--to", "dev", "--", "true", token=developer).returncode == 0

    status = relman("status", "checkout", token=developer).stdout.splitlines()
    production = next(line for line in status if line.startswith("production"))
    staging = next(line for line in status if line.startswith("staging"))
    assert status[0].split()[-1] == "GATES"
    assert "1 from the team qa, 1 from holders of admin" in production
    assert (
        "windows mon 00:00-23:59" in production and "Europe/Berlin (outside them: held until one opens)" in production
    )
    assert "soak 30 min; skippable by admin; promoted by the train 0 10 * * 1-5 (Europe/Berlin)" in staging
    assert "auto-rollback" in production

    blocked = relman("preflight", "checkout@1.0.1", "--to", "production", token=developer)
    lane = relman("preflight", "checkout@1.0.1", "--to", "production", "--skip-stage", "staging", token=developer)
    assert blocked.returncode == 3 and "promotion_required" in blocked.stderr
    assert lane.returncode == 0, lane.stderr
    assert "allowed (needs approval)" in lane.stdout
    assert "approvals:      1 from the team qa, 1 from holders of admin" in lane.stdout
    assert "deploy windows: mon 00:00-23:59" in lane.stdout

    no_reason = relman("deploy", "checkout@1.0.1", "--to", "production", "--skip-stage", "staging", token=admin)
    taken = relman(
        "deploy", "checkout@1.0.1", "--to", "production", "--skip-stage", "staging", "--reason", "SEV-1 INC-4411",
        token=admin,
    )  # fmt: skip
    assert no_reason.returncode == 1 and "--skip-stage needs --reason" in no_reason.stderr
    assert taken.returncode == 0, taken.stderr
    assert "skipped:      staging" in taken.stdout
    assert "still needed: 1 from the team qa, 1 from holders of admin" in taken.stdout
    as_json = relman("status", "checkout", "-o", "json", token=developer)
    assert json.loads(as_json.stdout)["environments"]["production"]["in_progress"]["status"] == "pending_approval"
