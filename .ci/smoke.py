"""Smoke test through the load balancer: the API answers, its cache works, and it takes every write.

`python .ci/smoke.py --outputs terraform/tf-outputs.json --token-secret projects/P/secrets/S/versions/latest`
(or `--url https://HOST`, or the token in SMOKE_TOKEN). It checks, in order:

1. `GET /health` answers 200 with `"status": "ok"`: a `degraded` cache fails the build (in Cloud the
   cache is configured, so degraded means it is unreachable or TLS to it is broken);
2. `GET /auth/me` answers 200 with the token (a `developer` API token);
3. a write of each method the API serves passes Cloud Armor and reaches the API: a draft release is
   created (`POST /releases`), edited (`PATCH`) and deleted (`DELETE`), and a `PUT` the token may not
   make must be refused by the API itself (its problem+json), not by the load balancer.

A new revision or certificate can take a few minutes to serve, so the first two are retried until
`--wait` seconds have passed. The token is read from Secret Manager with the build's own identity
(the metadata server) only now, so a build can run before the token exists; it then fails here with
a message saying how to add it (README, "Migrations and the first admin against Cloud SQL").
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
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


def read_secret(name: str, metadata_url: str, secret_manager_url: str) -> str:
    """The payload of secret version `name`, read as the build's service account (metadata server)."""
    token_request = urllib.request.Request(  # noqa: S310 - fixed metadata server URL
        f"{metadata_url}/computeMetadata/v1/instance/service-accounts/default/token",
        headers={"Metadata-Flavor": "Google"},
    )
    try:
        with urllib.request.urlopen(token_request, timeout=10) as response:  # noqa: S310
            access_token = json.load(response)["access_token"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise SmokeError(f"no credentials from the metadata server ({error}); run inside Cloud Build") from error
    answer = call("GET", f"{secret_manager_url}/v1/{name}:access", token=access_token)
    if answer.status in (400, 404):  # no version (404), or only disabled ones (400 FAILED_PRECONDITION)
        raise SmokeError(
            f"{name} has no enabled version yet: create the first admin and a developer API token, then "
            "`printf %s TOKEN | gcloud secrets versions add <secret> --data-file=-` (README, first admin)"
        )
    if answer.status == 403:
        raise SmokeError(f"this build's account may not read {name} (terraform/secrets.tf grants the deployer)")
    if answer.status != 200:
        raise SmokeError(f"reading {name} answered {answer.status or 'nothing'}")
    return base64.b64decode(answer.json()["payload"]["data"]).decode().strip()


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
    where.add_argument("--outputs", help="`terraform output -json` file; its `url` output is used")
    parser.add_argument("--token-secret", help="Secret Manager version holding the API token (else SMOKE_TOKEN)")
    parser.add_argument("--read-path", default="/auth/me", help="authenticated read (default /auth/me)")
    parser.add_argument("--allow-degraded", action="store_true", help="accept /health `degraded` (no cache)")
    parser.add_argument("--wait", type=float, default=300, help="seconds to keep retrying the first checks")
    parser.add_argument("--pause", type=float, default=10, help="seconds between attempts")
    parser.add_argument("--metadata-url", default="http://metadata.google.internal", help=argparse.SUPPRESS)
    parser.add_argument("--secret-manager-url", default="https://secretmanager.googleapis.com", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.token_secret:
            token = read_secret(args.token_secret, args.metadata_url.rstrip("/"), args.secret_manager_url.rstrip("/"))
        else:
            token = os.environ.get("SMOKE_TOKEN", "")
            if not token:
                raise SmokeError("no token: pass --token-secret or set SMOKE_TOKEN")
    except SmokeError as error:
        print(f"FAIL  smoke-test token: {error}", file=sys.stderr)
        return 2
    if args.outputs:
        with open(args.outputs) as handle:
            base = json.load(handle)["url"]["value"]
    else:
        base = args.url
    base = base.rstrip("/")
    results = [
        until("health", health(base, args.allow_degraded), args.wait, args.pause),
        until("authenticated read", authenticated_read(base, args.read_path, token), args.wait, args.pause),
    ]
    if all(results):
        results.append(writes(base, token))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
