"""What a new instance loads to answer its first request: a fresh interpreter serves one request
through functions-framework, against the real PostgreSQL and Redis of this run, and tells which
packages that took. The figures are `make bench`'s; this holds the shape: a release read from the
cache never loads the data layer, and a write does (so the check can tell the two apart). The same
for the caller's account, whose cached answer must then follow every change of role, binding and
team at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.factories import as_role, bind, make_team, ready_release, register_application

FIRST_REQUEST = """
import json, sys
import functions_framework
app = functions_framework.create_app(sys.argv[1], str(sys.argv[2]))
method, path, headers, body = sys.argv[3], sys.argv[4], json.loads(sys.argv[5]), sys.argv[6].encode() or None
status = app.test_client().open(path, method=method, headers=headers, data=body).status_code
print(json.dumps({"status": status, "loaded": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def first_request(function: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> dict:
    """Answer one request in a new interpreter, as a new instance would; its status and what it loaded."""
    main = ROOT / "functions" / function / "main.py"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    argv = [function, str(main), method, path, json.dumps(headers), body.decode()]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, *argv], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_release_read_from_the_cache_loads_no_data_layer(releases, developer):
    release = ready_release(releases, developer)
    assert releases.get(f"/releases/{release['id']}", headers=developer).status_code == 200  # now cached

    answer = first_request("releases", "GET", f"/releases/{release['id']}", developer)

    assert answer["status"] == 200
    assert "sqlalchemy" not in answer["loaded"] and "pg8000" not in answer["loaded"]


def test_a_release_not_in_the_cache_is_read_from_the_database(releases, developer):
    release = ready_release(releases, developer)  # recorded, never read: not cached

    answer = first_request("releases", "GET", f"/releases/{release['id']}", developer)

    assert answer["status"] == 200
    assert "sqlalchemy" in answer["loaded"]


def test_the_first_write_of_an_instance_records_the_release(releases, developer):
    body = json.dumps({"application": "shop", "version": "2.0.0", "title": "First"}).encode()

    answer = first_request("releases", "POST", "/releases", developer | {"Content-Type": "application/json"}, body)

    assert answer["status"] == 201
    found = releases.get("/releases?application=shop", headers=developer).get_json()["items"]
    assert [r["version"] for r in found] == ["2.0.0"]


def test_the_callers_account_read_from_the_cache_loads_no_data_layer(auth, developer):
    assert auth.get("/auth/me", headers=developer).status_code == 200  # now cached

    answer = first_request("auth", "GET", "/auth/me", developer)

    assert answer["status"] == 200
    assert "sqlalchemy" not in answer["loaded"]


def test_the_callers_account_shows_a_new_binding_and_team_at_once(auth, releases, admin):
    register_application(releases, admin, "shop")
    user, headers = as_role("viewer")
    assert auth.get("/auth/me", headers=headers).get_json()["bindings"] == []  # cached now

    bind(auth, admin, user, "developer", application="shop")
    make_team(auth, admin, "payments", members=[user])

    me = auth.get("/auth/me", headers=headers).get_json()
    assert [(b["role"], b["application"]) for b in me["bindings"]] == [("developer", "shop")]
    assert me["teams"] == ["payments"]


def test_the_callers_account_through_an_api_token_shows_that_tokens_role(auth, developer):
    assert auth.get("/auth/me", headers=developer).get_json()["token"] is None  # the session's, cached
    created = auth.post("/auth/tokens", json={"name": "ci", "role": "viewer"}, headers=developer)
    assert created.status_code == 201, created.get_json()

    by_token = auth.get("/auth/me", headers={"Authorization": f"Bearer {created.get_json()['token']}"}).get_json()

    assert by_token["token"]["role"] == "viewer" and by_token["token"]["kind"] == "api_token"
