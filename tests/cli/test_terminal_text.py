"""What `relman` prints for people carries no terminal control sequence from the server: a release's
title, notes and a deployment's message or comment are printed without C0/C1 controls (notes keep
their newlines and tabs), so they can't clear the screen or retitle the terminal; `--output json`
keeps them exact."""

from __future__ import annotations

import json
import re

from tests.cli.conftest import Relman
from tests.cli.test_pipeline_flow import finish, pending_deployment
from tests.factories import access_token, make_user
from tests.servers import DevServer, call

TITLE = "Faster \x1b[2Jpayment\x9b31m page\x07\x7f"
NOTES = "Cuts load time.\r\n\tBy **40%**\x1b]0;owned\x07.\n"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but newline and tab


def test_titles_notes_and_messages_are_printed_without_control_characters(relman: Relman, dev_server: DevServer):
    developer, manager = access_token(make_user("developer")), access_token(make_user("release_manager"))
    body = {"application": "shop", "version": "1.0.0", "title": TITLE, "notes": NOTES}  # as any client may send
    assert call(dev_server.base, "POST", "/releases", body, {"Authorization": f"Bearer {developer}"})[0] == 201
    made = relman("release", "finalize", "shop@1.0.0", token=developer)
    assert made.returncode == 0, made.stderr

    shown = relman("release", "show", "shop@1.0.0", token=developer).stdout
    listed = relman("release", "list", "--application", "shop", token=developer).stdout
    as_json = json.loads(relman("release", "show", "shop@1.0.0", "--output", "json", token=developer).stdout)

    for printed in (made.stdout, shown, listed):
        assert not CONTROLS.search(printed), repr(printed)
    assert "title:" in shown and "Faster [2Jpayment31m page" in shown
    assert "notes:\n  Cuts load time.\n  \tBy **40%**]0;owned." in shown  # the tab kept, the CR and escapes not
    assert "Faster [2Jpayment31m page" in listed
    assert (as_json["title"], as_json["notes"]) == (TITLE, NOTES)

    deployed = relman("deploy", "shop@1.0.0", "--to", "dev", "-o", "json", token=developer)
    reported = relman("report", json.loads(deployed.stdout)["id"], "--status", "in_progress", "--message",
                      "Rolling out\x1b[1A\x1b[2K done", token=developer)  # fmt: skip
    assert reported.returncode == 0 and "Rolling out[1A[2K done" in reported.stdout
    assert not CONTROLS.search(reported.stdout + reported.stderr)
    assert relman("report", json.loads(deployed.stdout)["id"], "--status", "succeeded", token=developer).returncode == 0
    assert relman("run", "shop@1.0.0", "--to", "staging", "--", "true", token=developer).returncode == 0

    waiting = relman.start("deploy", "shop@1.0.0", "--to", "production", "--wait", token=developer)
    try:
        pending = pending_deployment(dev_server.base, manager, "production")
        rejected = relman("reject", pending["id"], "--comment", "Not now\x1b]0;approved\x07\x9b2J", token=manager)
        assert rejected.returncode == 0, rejected.stderr
        code, out, err = finish(waiting)
    finally:
        waiting.kill()
    assert code != 0 and "(Not now]0;approved2J)" in err  # the comment, from the server, on stderr
    assert not CONTROLS.search(out + err), repr(err)
