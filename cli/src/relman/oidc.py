"""Keyless sign-in: find an OIDC token where the pipeline runs, exchange it at `/auth/exchange` (RFC 8693).

Sources, first found wins: RELMAN_OIDC_TOKEN; RELMAN_OIDC_TOKEN_FILE (read again at each renewal, so a
rotated file is followed); GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, with
`permissions: id-token: write`); the Google Cloud metadata server's identity endpoint (a Cloud Build
step, Cloud Run, GCE; GCE_METADATA_HOST overrides the host, as Google's own libraries allow).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from relman.errors import NotSignedIn

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a grant type, not a secret)
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 (a token type)
METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"


def find_token(http: httpx.Client, *, audience: str) -> tuple[str, str]:
    """(token, where it came from); NotSignedIn when no source has one."""
    if token := os.environ.get("RELMAN_OIDC_TOKEN", "").strip():
        return token, "RELMAN_OIDC_TOKEN"
    if path := os.environ.get("RELMAN_OIDC_TOKEN_FILE"):
        try:
            token = Path(path).read_text().strip()
        except OSError as error:
            raise NotSignedIn(f"RELMAN_OIDC_TOKEN_FILE: cannot read {path}: {error.strerror}") from None
        if not token:
            raise NotSignedIn(f"RELMAN_OIDC_TOKEN_FILE: {path} is empty")
        return token, "RELMAN_OIDC_TOKEN_FILE"
    if os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return _github(http, audience), "GitHub Actions"
    if found := _metadata_server(http, audience):
        return found, "the Google Cloud metadata server"
    raise NotSignedIn(
        "keyless sign-in found no OIDC token: set RELMAN_OIDC_TOKEN or RELMAN_OIDC_TOKEN_FILE, run in GitHub Actions "
        "with `permissions: id-token: write`, or on Google Cloud; or set RELMAN_TOKEN"
    )


def _github(http: httpx.Client, audience: str) -> str:
    url = os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
    request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not request_token:
        raise NotSignedIn(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set: the workflow needs `permissions: id-token: write`"
        )
    try:
        # The runner's URL has a query of its own (api-version): the audience is added to it, not put in its place.
        target = httpx.URL(url).copy_merge_params({"audience": audience})
        response = http.get(target, headers={"Authorization": f"bearer {request_token}"}, timeout=10)
    except httpx.HTTPError as error:
        raise NotSignedIn(f"GitHub Actions' OIDC token endpoint is unreachable: {error}") from None
    if response.status_code != 200:
        raise NotSignedIn(f"GitHub Actions refused an OIDC token ({response.status_code})")
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise NotSignedIn("GitHub Actions answered no OIDC token")
    return value


def _metadata_server(http: httpx.Client, audience: str) -> str | None:
    """The identity token of the default service account, or None when there is no metadata server."""
    host = os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_ROOT") or "metadata.google.internal"
    try:
        response = http.get(
            f"http://{host}{METADATA_PATH}",
            params={"audience": audience, "format": "full"},
            headers={"Metadata-Flavor": "Google"},
            timeout=3,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or response.headers.get("Metadata-Flavor") != "Google":
        return None
    return response.text.strip() or None


def exchange_body(subject_token: str, service_account: str | None) -> dict[str, str]:
    """The RFC 8693 request `/auth/exchange` takes."""
    body = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ID_TOKEN}
    if service_account:
        body["service_account"] = service_account
    return body
