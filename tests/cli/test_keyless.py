"""Keyless sign-in: relman finds an OIDC token (RELMAN_OIDC_TOKEN(_FILE), GitHub Actions, the Google Cloud
metadata server), exchanges it at `/auth/exchange` as RFC 8693 says, keeps the answer in memory only
and renews it before it expires.

Faked boundaries, and why: GitHub's token endpoint and Google's metadata server exist only on their
runners, so local stand-ins answer as they do. `/auth/exchange` is being built on another branch; until
it lands here a stand-in checks the request's shape against API.md and answers as the contract says (the
lead adds an end-to-end test with the local OIDC issuer once it lands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Relman, clean_env
from tests.cli.stand_ins import Seen, StandIn, stand_in

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


def service(lifetime: int = 900) -> dict:
    """`/auth/exchange` (the contract's request and answer) and `/auth/me` honouring what it issued."""
    issued: list[str] = []

    def exchange(seen: Seen) -> tuple[int, dict, dict]:
        body = seen.json()
        if body.get("grant_type") != GRANT or body.get("subject_token_type") != ID_TOKEN:
            return 400, {}, {"code": "invalid_request"}
        if not str(body.get("subject_token", "")).startswith("oidc-"):
            return 401, {"WWW-Authenticate": "Bearer"}, {"status": 401, "code": "invalid_grant", "detail": "refused"}
        issued.append(f"access-{len(issued) + 1}")
        kind = "urn:ietf:params:oauth:token-type:access_token"
        return 200, {}, {"access_token": issued[-1], "issued_token_type": kind, "token_type": "bearer",
                         "expires_in": lifetime}  # fmt: skip

    def me(seen: Seen) -> tuple[int, dict, dict]:
        if issued and seen.headers.get("Authorization") == f"Bearer {issued[-1]}":
            return (
                200,
                {},
                {"email": "deployer@service-accounts", "role": "developer", "token": {"kind": "service_account"}},
            )
        return 401, {}, {"status": 401, "code": "invalid_token", "detail": "no"}

    return {("POST", "/auth/exchange"): exchange, ("GET", "/auth/me"): me}


def github() -> dict:
    def token(seen: Seen) -> tuple[int, dict, dict]:
        if seen.headers.get("Authorization") != "bearer request-token":
            return 401, {}, {}
        return 200, {}, {"value": f"oidc-github-for-{seen.query['audience'][0]}"}

    return {("GET", "/_apis/token"): token}


def metadata() -> dict:
    path = "/computeMetadata/v1/instance/service-accounts/default/identity"

    def identity(seen: Seen) -> tuple[int, dict, str]:
        if seen.headers.get("Metadata-Flavor") != "Google" or seen.query.get("format") != ["full"]:
            return 403, {}, "missing Metadata-Flavor"
        return 200, {"Metadata-Flavor": "Google"}, f"oidc-google-for-{seen.query['audience'][0]}"

    return {("GET", path): identity}


def exchanges(server: StandIn) -> list[dict]:
    return [s.json() for s in server.requests("/auth/exchange")]


def test_on_github_actions_the_runner_token_is_exchanged_as_rfc_8693_says(relman_bin: str, tmp_path: Path):
    with stand_in(service() | github()) as server:
        signed_in = Relman(relman_bin, server.base)(
            "whoami", "-o", "json", cwd=tmp_path, HOME=str(tmp_path),
            RELMAN_SERVICE_ACCOUNT="deployer", ACTIONS_ID_TOKEN_REQUEST_TOKEN="request-token",
            ACTIONS_ID_TOKEN_REQUEST_URL=f"{server.base}/_apis/token?api-version=2.0",
        )  # fmt: skip

    assert signed_in.returncode == 0, signed_in.stderr
    assert json.loads(signed_in.stdout)["email"] == "deployer@service-accounts"
    assert exchanges(server) == [
        {"grant_type": GRANT, "subject_token": f"oidc-github-for-{server.base}", "subject_token_type": ID_TOKEN,
         "service_account": "deployer"}  # the audience defaults to RELMAN_URL's origin
    ]  # fmt: skip
    assert server.requests("/_apis/token")[0].query["api-version"] == ["2.0"]  # the runner's own query kept
    assert "GitHub Actions" in signed_in.stderr
    assert list(tmp_path.iterdir()) == []  # kept in memory only: nothing written to disk


def test_on_google_cloud_the_metadata_server_gives_the_token(relman_bin: str):
    with stand_in(service()) as server, stand_in(metadata()) as google:
        signed_in = Relman(relman_bin, server.base)(
            "whoami", RELMAN_SERVICE_ACCOUNT="deployer", RELMAN_AUDIENCE="https://releases.example.com",
            GCE_METADATA_HOST=google.host,
        )  # fmt: skip

    assert signed_in.returncode == 0, signed_in.stderr
    assert exchanges(server)[0]["subject_token"] == "oidc-google-for-https://releases.example.com"


@pytest.mark.parametrize("source", ["RELMAN_OIDC_TOKEN", "RELMAN_OIDC_TOKEN_FILE"])
def test_a_token_given_in_the_environment_or_a_file(relman_bin: str, tmp_path: Path, source: str):
    given = tmp_path / "token"
    given.write_text("oidc-from-a-file\n")
    value = "oidc-from-a-file" if source == "RELMAN_OIDC_TOKEN" else str(given)
    with stand_in(service()) as server:
        signed_in = Relman(relman_bin, server.base)("whoami", **{source: value})

    assert signed_in.returncode == 0, signed_in.stderr
    assert exchanges(server) == [
        {"grant_type": GRANT, "subject_token": "oidc-from-a-file", "subject_token_type": ID_TOKEN}
    ]


def test_no_token_anywhere_or_a_refused_one_is_2(relman_bin: str):
    with stand_in(service()) as server:
        nothing = Relman(relman_bin, server.base)("whoami", RELMAN_SERVICE_ACCOUNT="deployer")
        refused = Relman(relman_bin, server.base)(
            "whoami", RELMAN_SERVICE_ACCOUNT="deployer", RELMAN_OIDC_TOKEN="forged"
        )

    assert nothing.returncode == 2 and "found no OIDC token" in nothing.stderr
    assert refused.returncode == 2 and "invalid_grant" in refused.stderr


RENEWAL = """
import sys, time
from relman.client import Client, Settings
client = Client(Settings(url=sys.argv[1], service_account="deployer"))
first = client.credentials.header(client)
client.get("/auth/me")
time.sleep(1.2)  # renewed with a fifth of its life left: this 1 s token after 0.8 s
client.get("/auth/me")
print(first["Authorization"], client.credentials.header(client)["Authorization"])
"""


def test_the_exchanged_token_is_renewed_before_it_expires_during_a_long_wait(services):
    """The installed package in-process, a token living 1 s: the call after 1.2 s needs a new one."""
    with stand_in(service(lifetime=1)) as server:
        env = clean_env(RELMAN_OIDC_TOKEN="oidc-x", PYTHONPATH="")
        ran = subprocess.run([sys.executable, "-c", RENEWAL, server.base], env=env, capture_output=True, text=True,
                             check=False, cwd=os.path.dirname(sys.executable))  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["Bearer", "access-1", "Bearer", "access-2"]
    assert len(exchanges(server)) == 2
