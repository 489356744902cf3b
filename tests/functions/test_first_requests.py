"""What a new instance loads to answer its first request: a fresh interpreter serves one request
through functions-framework, against the real PostgreSQL and Redis of this run, and tells which
packages that took. The figures are `make bench`'s; this holds the shape: a release read from the
cache never loads the data layer, and a write does (so the check can tell the two apart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.factories import ready_release

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
