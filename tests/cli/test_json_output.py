"""`--output json`: exactly one JSON document on stdout for every command (messages go to stderr), so a
pipeline can pipe any of them into `jq`; the option works before or after the command's name."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.conftest import Relman
from tests.factories import access_token, make_user
from tests.servers import DevServer


def test_every_command_prints_one_json_document(relman: Relman, dev_server: DevServer):
    developer, manager = access_token(make_user("developer")), access_token(make_user("release_manager"))
    documents: dict[str, Any] = {}

    def as_json(name: str, *args: str, token: str = developer, code: int = 0) -> Any:
        at = args.index("--") if "--" in args else len(args)  # after `--` it would be the command's own
        ran = relman(*args[:at], "--output", "json", *args[at:], token=token)
        assert ran.returncode == code, f"{name}: {ran.stderr}"
        documents[name] = json.loads(ran.stdout)  # raises on anything but one JSON document
        return documents[name]

    as_json("whoami", "whoami")
    as_json("release create", "release", "create", "-a", "shop", "--version", "2.0.0")
    as_json("release finalize", "release", "finalize", "shop@2.0.0")
    as_json("release show", "release", "show", "shop@2.0.0")
    as_json("release list", "release", "list", "--application", "shop")
    as_json("preflight", "preflight", "shop@2.0.0", "--to", "dev")
    deployment = as_json("deploy", "deploy", "shop@2.0.0", "--to", "dev", "--wait")
    as_json("report", "report", deployment["id"], "--status", "in_progress")
    as_json("report done", "report", deployment["id"], "--status", "succeeded")
    as_json("run", "run", "shop@2.0.0", "--to", "staging", "--", "echo", "to stderr, not stdout")
    production = as_json("deploy production", "deploy", "shop@2.0.0", "--to", "production")
    as_json("reject", "reject", production["id"], "--comment", "not now", token=manager)
    production = as_json("deploy again", "deploy", "shop@2.0.0", "--to", "production")
    as_json("approve", "approve", production["id"], token=manager)
    as_json("status", "status", "shop")
    as_json("metrics", "metrics", "--application", "shop")
    freeze = as_json("freeze create", "freeze", "create", "--weekly", "sat 00:00-23:59", "--timezone", "UTC",
                     "--reason", "Weekend", token=manager)  # fmt: skip
    as_json("freeze list", "freeze", "list")
    as_json("freeze delete", "freeze", "delete", freeze["id"], token=manager)
    as_json("lock", "lock", "--env", "staging", "--reason", "INC-1", token=manager)
    as_json("locks", "locks")
    as_json("unlock", "unlock", "--env", "staging", "--reason", "Fixed", token=manager)
    as_json("release cancel", "release", "cancel", "shop@2.0.0", "--reason", "Bad build")
    as_json(
        "rollback (nothing to go back to)", "rollback", "shop", "--env", "dev", "--reason", "x", token=manager, code=1
    )
    as_json("usage error", "deploy", "shop@2.0.0", code=1)

    assert documents["release show"]["version"] == "2.0.0"
    assert documents["release list"]["items"][0]["version"] == "2.0.0"
    changes = documents["preflight"].pop("changes")
    assert changes["base_version"] is None and [r["version"] for r in changes["releases"]] == ["2.0.0"]
    assert documents["preflight"] == {
        "allowed": True,
        "needs_approval": False,
        "required_approvals": 0,
        "approver_teams": [],
        "approval_rules": [],
        "policy": None,
        "blocking": [],
    }
    assert documents["run"]["status"] == "succeeded"
    assert documents["reject"]["deployment"]["status"] == "rejected"
    assert documents["approve"]["deployment"]["status"] == "queued"
    assert documents["status"]["environments"]["staging"]["live"]["version"] == "2.0.0"
    assert documents["freeze list"]["items"][0]["reason"] == "Weekend"
    assert documents["locks"]["items"][0]["reason"] == "INC-1" and documents["locks"]["items"][0]["active"]
    assert documents["unlock"]["active"] is False and documents["unlock"]["unlock_reason"] == "Fixed"
    assert documents["rollback (nothing to go back to)"]["code"] == "no_rollback_target"
    assert documents["usage error"]["code"] == "usage_error"


def test_the_output_option_may_come_first_or_from_the_environment(relman: Relman, dev_server: DevServer):
    developer = access_token(make_user("developer"))

    first = relman("--output", "json", "whoami", token=developer)
    from_env = relman("whoami", token=developer, RELMAN_OUTPUT="json")
    text = relman("whoami", token=developer)

    assert json.loads(first.stdout)["role"] == json.loads(from_env.stdout)["role"] == "developer"
    assert text.stdout.startswith("email:")
