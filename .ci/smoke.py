"""Smoke test through the load balancer: the API answers, its cache works, and it takes every write.

`python .ci/smoke.py --outputs terraform/tf-outputs.json` (or `--url https://HOST`
`--service-account NAME`). It signs in keyless, as any pipeline would: the build's own ID token
(the metadata server's identity endpoint, audience the API's URL; GCE_METADATA_HOST overrides the
host, for a stand-in) is exchanged at `POST /auth/exchange` for an access token of the API's service
account Terraform's output `smoke_service_account` names. No token is stored anywhere. (A person
running it by hand may set SMOKE_TOKEN to an access or API token instead.) It checks, in order:

1. `GET /health` answers 200 with `"status": "ok"`: a `degraded` cache fails the build (in Cloud the
   cache is configured, so degraded means it is unreachable or TLS to it is broken);
2. the exchange answers an access token, and `GET /auth/me` answers 200 with it (the service
   account is bound `developer`);
3. a write of each method the API serves passes Cloud Armor and reaches the API: a draft release is
   created (`POST /releases`), edited (`PATCH`) and deleted (`DELETE`), and a `PUT` the token may not
   make must be refused by the API itself (its problem+json), not by the load balancer.

A new revision or certificate can take a few minutes to serve, so the first checks are retried
until `--wait` seconds have passed. A refused exchange fails here with a message saying how an
admin trusts the build (docs/deploy.md, "Migrations and the first admin against Cloud SQL").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

JSON_TYPES = ("application/json", "application/problem+json")
SMOKE_APPLICATION = "smoke-test"


@dataclass
class Answer:
    status: int  # 0 when nothing answered
    content_type: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict:
        try:
            value = json.loads(self.body or b"null")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def from_api(self) -> bool:
        """The API answers JSON or problem+json; Cloud Armor's deny page and Google's 404 are HTML."""
        return self.content_type.split(";")[0].strip() in JSON_TYPES


def call(method: str, url: str, token: str | None = None, body: dict | None = None, timeout: float = 10.0) -> Answer:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - the URL is ours
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the URL is ours
            return Answer(int(response.status), response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as error:
        return Answer(int(error.code), error.headers.get("Content-Type", ""), error.read())
    except (urllib.error.URLError, OSError):
        return Answer(0)


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a token type


def id_token(audience: str) -> str:
    """The build account's ID token for `audience`, from the metadata server (Cloud Build's, or the
    stand-in GCE_METADATA_HOST names)."""
    host = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
    query = urllib.parse.urlencode({"audience": audience, "format": "full"})
    request = urllib.request.Request(
        f"http://{host}/computeMetadata/v1/instance/service-accounts/default/identity?{query}",
        headers={"Metadata-Flavor": "Google"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            token = response.read().decode().strip()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SmokeError(f"no ID token from the metadata server ({error}); run inside Cloud Build") from error
    if token.count(".") != 2:
        raise SmokeError("the metadata server answered something that is not an ID token")
    return token


def exchange(base: str, subject_token: str, service_account: str) -> Answer:
    body = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ID_TOKEN,
        "service_account": service_account,
    }
    return call("POST", f"{base}/auth/exchange", body=body)


def signed_in(base: str, subject_token: str, service_account: str, found: dict[str, str]):
    """Exchange the ID token (retried while the API is not serving yet); a refusal ends the wait."""

    def attempt() -> tuple[bool, str]:
        answer = exchange(base, subject_token, service_account)
        if answer.status == 200 and answer.json().get("access_token"):
            found["token"] = str(answer.json()["access_token"])
            return True, f"POST /auth/exchange -> 200 as {service_account} for {answer.json().get('expires_in')} s"
        if answer.status in (400, 401, 403, 422):
            found["refused"] = "yes"
            return True, f"POST /auth/exchange -> {answer.status} {answer.json().get('code', '')}"
        return False, f"POST /auth/exchange -> {answer.status or 'no answer'}"

    return attempt


class SmokeError(Exception):
    pass


def until(check: str, attempt, wait_s: float, pause_s: float) -> bool:
    """Run `attempt()` (-> (ok, what happened)) until ok or the deadline; say how it went."""
    deadline = time.monotonic() + wait_s
    while True:
        ok, what = attempt()
        if ok or time.monotonic() >= deadline:
            print(f"{'ok  ' if ok else 'FAIL'}  {check}: {what}", file=sys.stdout if ok else sys.stderr)
            return ok
        time.sleep(pause_s)


def report(check: str, ok: bool, what: str) -> bool:
    print(f"{'ok  ' if ok else 'FAIL'}  {check}: {what}", file=sys.stdout if ok else sys.stderr)
    return ok


def health(base: str, allow_degraded: bool):
    def attempt() -> tuple[bool, str]:
        answer = call("GET", f"{base}/health")
        status = answer.json().get("status")
        cache = answer.json().get("checks", {}).get("cache", {}).get("status")
        wanted = {"ok", "degraded"} if allow_degraded else {"ok"}
        return (
            answer.status == 200 and status in wanted,
            f"GET /health -> {answer.status or 'no answer'} {status} (cache {cache})",
        )

    return attempt


def authenticated_read(base: str, path: str, token: str):
    def attempt() -> tuple[bool, str]:
        answer = call("GET", f"{base}{path}", token=token)
        return answer.status == 200, f"GET {path} -> {answer.status or 'no answer'}"

    return attempt


def writes(base: str, token: str) -> bool:
    """POST, PATCH and DELETE a draft release (nothing is left behind), and a PUT the API refuses."""
    version = f"0.0.0-smoke.{int(time.time())}"
    created = call(
        "POST",
        f"{base}/releases",
        token,
        {"application": SMOKE_APPLICATION, "version": version, "title": "Smoke test (deleted at once)"},
    )
    results = [report("write POST", created.status == 201, f"POST /releases -> {created.status or 'no answer'}")]
    release_id = created.json().get("id")
    if created.status == 201 and release_id:
        try:
            edited = call("PATCH", f"{base}/releases/{release_id}", token, {"title": "Smoke test (edited)"})
            results.append(report("write PATCH", edited.status == 200, f"PATCH /releases/{{id}} -> {edited.status}"))
        finally:
            deleted = call("DELETE", f"{base}/releases/{release_id}", token)
            results.append(
                report("write DELETE", deleted.status == 204, f"DELETE /releases/{{id}} -> {deleted.status}")
            )
    else:
        results.append(report("write PATCH, DELETE", False, "skipped: no draft was created"))
    # PUT is admin-only (environments); a developer token must get the API's own refusal, which
    # proves the method passes the load balancer without changing anything.
    put = call("PUT", f"{base}/releases/environments/{SMOKE_APPLICATION}", token, {})
    reached = put.from_api and put.status in (200, 201, 204, 400, 401, 403, 404, 409, 412, 422)
    results.append(
        report("write PUT", reached, f"PUT /releases/environments/... -> {put.status} {put.content_type or ''}")
    )
    return all(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/smoke.py", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of the load balancer, e.g. https://releases.example.com")
    where.add_argument("--outputs", help="`terraform output -json` file; its `url` and `smoke_service_account`")
    parser.add_argument("--service-account", help="the API's service account to sign in as (else the output)")
    parser.add_argument("--read-path", default="/auth/me", help="authenticated read (default /auth/me)")
    parser.add_argument("--allow-degraded", action="store_true", help="accept /health `degraded` (no cache)")
    parser.add_argument("--wait", type=float, default=300, help="seconds to keep retrying the first checks")
    parser.add_argument("--pause", type=float, default=10, help="seconds between attempts")
    args = parser.parse_args(argv)
    outputs = {}
    if args.outputs:
        with open(args.outputs) as handle:
            outputs = json.load(handle)
        base = outputs["url"]["value"]
    else:
        base = args.url
    base = base.rstrip("/")
    account = args.service_account or outputs.get("smoke_service_account", {}).get("value")
    token = os.environ.get("SMOKE_TOKEN", "")
    subject_token = ""
    try:
        if not token:
            if not account:
                raise SmokeError("no service account: pass --service-account or --outputs (or set SMOKE_TOKEN)")
            subject_token = id_token(base)
    except SmokeError as error:
        print(f"FAIL  smoke-test sign-in: {error}", file=sys.stderr)
        return 2
    if not until("health", health(base, args.allow_degraded), args.wait, args.pause):
        return 1
    if not token:
        found: dict[str, str] = {}
        until("keyless sign-in", signed_in(base, subject_token, account, found), args.wait, args.pause)
        if "token" not in found:
            if "refused" in found:
                print(
                    f"FAIL  smoke-test sign-in: the API does not trust this build as service account {account!r}: "
                    "an admin creates it with a trust entry for the deployer's Google identity and binds it "
                    'developer (docs/deploy.md, "Migrations and the first admin against Cloud SQL")',
                    file=sys.stderr,
                )
                return 2
            return 1
        token = found["token"]
    results = [until("authenticated read", authenticated_read(base, args.read_path, token), args.wait, args.pause)]
    if all(results):
        results.append(writes(base, token))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
