"""Keyless sign-in end to end: the installed `relman`, with RELMAN_SERVICE_ACCOUNT and an OIDC token
from a local issuer (standing in for Google) in RELMAN_OIDC_TOKEN, against a live dev server that
exchanges it at `/auth/exchange`. Nothing is stubbed but the issuer's network boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.conftest import Relman
from tests.factories import access_token, make_user
from tests.oidc_issuer import LocalIssuer
from tests.servers import DevServer, call

GOOGLE_SUB = "113948692397867021414"
BUILDER = "builder@acme-releases.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def keyless_server(services: dict[str, str]) -> Iterator[DevServer]:
    """A dev server that admits loopback issuers (OIDC_ALLOW_INSECURE_ISSUERS, test only)."""
    server = DevServer(OIDC_ALLOW_INSECURE_ISSUERS="true", OIDC_JWKS_REFRESH_S="0.2")
    yield server
    server.stop()


@pytest.fixture
def google() -> Iterator[LocalIssuer]:
    with LocalIssuer(path="/google") as issuer:
        issuer.add_key("RS256")
        yield issuer


def as_admin(base: str, admin: str, method: str, path: str, body: dict) -> dict:
    status, _, answer = call(base, method, path, body, {"Authorization": f"Bearer {admin}"})
    assert status == 201, answer
    return dict(answer)


def test_relman_signs_in_keyless_and_deploys_within_its_binding(relman_bin, keyless_server, google):
    base = keyless_server.base
    admin = access_token(make_user("admin"))
    for name in ("checkout", "payments"):
        as_admin(base, admin, "POST", "/releases/applications", {"name": name, "display_name": name.title()})
    entry = {"issuer": google.url, "subject": GOOGLE_SUB, "audience": base, "claims": {"email": BUILDER}}
    account = as_admin(
        base, admin, "POST", "/auth/service-accounts", {"name": "deployer", "display_name": "CI", "trust": [entry]}
    )
    binding = {"subject": {"type": "service_account", "id": account["id"]}, "role": "developer"}
    as_admin(base, admin, "POST", "/auth/bindings", binding | {"application": "checkout"})
    relman = Relman(relman_bin, base)
    # The audience is RELMAN_URL's origin by default, as the trust entry says.
    oidc = google.token(sub=GOOGLE_SUB, aud=base, email=BUILDER, email_verified=True)
    keyless = {"RELMAN_SERVICE_ACCOUNT": "deployer", "RELMAN_OIDC_TOKEN": oidc}

    whoami = relman("--output", "json", "whoami", **keyless)
    created = relman("release", "create", "-a", "checkout", "--version", "1.0.0", "--ready", **keyless)
    deployed = relman("deploy", "checkout@1.0.0", "--to", "dev", **keyless)
    elsewhere = relman("release", "create", "-a", "payments", "--version", "1.0.0", "--ready", **keyless)
    untrusted = relman("whoami", RELMAN_SERVICE_ACCOUNT="deployer", RELMAN_OIDC_TOKEN=google.token(sub="1", aud=base))

    me = json.loads(whoami.stdout)
    assert whoami.returncode == 0, whoami.stderr
    assert me["id"] == account["id"] and me["token"] == me["token"] | {"kind": "service_account", "role": "developer"}
    assert created.returncode == 0, created.stderr
    assert deployed.returncode == 0, deployed.stderr
    assert elsewhere.returncode == 2, elsewhere.stderr  # not allowed: its binding is on checkout only
    assert untrusted.returncode == 2, untrusted.stderr  # not signed in
