"""HTTP to the service: sign-in (a token, or keyless), bounded retries, problems raised as ApiError."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from relman import __version__, oidc
from relman.errors import ApiError, NotSignedIn, RelmanError, Unreachable
from relman.output import say

# The service said it did nothing (rate limited, a dependency down): any request may be sent again.
NOT_DONE = (429, 503)
# A gateway gave up: the request may have been done, so only a replayable one is sent again.
MAYBE_DONE = (502, 504)
REPLAYABLE = ("GET", "HEAD", "PUT", "DELETE")


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None = None
    service_account: str | None = None
    audience: str | None = None
    retry_seconds: float = 60.0

    @property
    def keyless(self) -> bool:
        explicit = os.environ.get("RELMAN_OIDC_TOKEN") or os.environ.get("RELMAN_OIDC_TOKEN_FILE")
        return not self.token and bool(self.service_account or explicit)


def idempotency_key(path: str, body: Any) -> str:
    """The same inputs give the same key, so a create sent twice (a retry, a re-run step) makes one record."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "relman-" + hashlib.sha256(f"POST {path}\n{canonical}".encode()).hexdigest()


def fresh_key() -> str:
    """A key for one invocation: its retries replay, a later run (after a failure, say) asks anew."""
    return f"relman-{uuid.uuid4()}"


class Credentials:
    """The bearer token: RELMAN_TOKEN as given, or an exchanged one, kept in memory and renewed before it expires."""

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http
        self._token: str | None = settings.token
        self._renew_at = float("inf")

    def header(self, client: Client) -> dict[str, str]:
        if self.settings.token:
            return {"Authorization": f"Bearer {self.settings.token}"}
        if not self.settings.keyless:
            raise NotSignedIn("not signed in: set RELMAN_TOKEN, or RELMAN_SERVICE_ACCOUNT for keyless sign-in")
        if self._token is None or time.monotonic() >= self._renew_at:
            self._exchange(client)
        return {"Authorization": f"Bearer {self._token}"}

    def forget(self) -> bool:
        """Drop an exchanged token (the service refused it); True when a new one can be fetched."""
        if self.settings.token or self._token is None:
            return False
        self._token = None
        return True

    def _exchange(self, client: Client) -> None:
        audience = self.settings.audience or origin(self.settings.url)
        subject, source = oidc.find_token(self.http, audience=audience)
        body = oidc.exchange_body(subject, self.settings.service_account)
        response = client.send("POST", "/auth/exchange", json_body=body, authenticate=False, replayable=True)
        answer = response.json()
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not isinstance(lifetime, int | float):
            raise NotSignedIn("/auth/exchange answered no access token")
        self._token = token
        # Renew with a fifth of the lifetime left (at most 5 minutes early), so a long wait never sends a dead token.
        self._renew_at = time.monotonic() + lifetime - min(300.0, lifetime / 5)
        say(f"Signed in keylessly with an OIDC token from {source} (valid {int(lifetime)} s).")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Client:
    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.url:
            raise RelmanError("RELMAN_URL is not set: the origin serving /auth, /releases and /health")
        if urlsplit(settings.url).scheme not in ("http", "https"):
            raise RelmanError(f"RELMAN_URL must be an http(s) URL, not {settings.url!r}")
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.http = httpx.Client(
            timeout=httpx.Timeout(30.0, connect=10.0),
            headers={"User-Agent": f"relman/{__version__}", "Accept": "application/json"},
            transport=transport,
        )
        self.credentials = Credentials(settings, self.http)

    # -- verbs ----------------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self.send("GET", path, params=query, replayable=True).json()

    def post(self, path: str, body: Any = None, *, key: str | None = None) -> tuple[Any, httpx.Response]:
        response = self.send("POST", path, json_body=body, idempotency_key=key, replayable=key is not None)
        return (response.json() if response.content else None), response

    def patch(self, path: str, body: Any, *, if_match: str | None = None) -> Any:
        headers = {"If-Match": if_match} if if_match else {}
        return self.send("PATCH", path, json_body=body, headers=headers, replayable=if_match is not None).json()

    def delete(self, path: str) -> None:
        self.send("DELETE", path, replayable=True)

    def pages(self, path: str, limit: int = 100, max_items: int | None = None, **params: Any) -> Iterator[Any]:
        """Every item of a list, a page at a time."""
        cursor: str | None = None
        seen = 0
        while True:
            page = self.get(path, limit=limit, cursor=cursor, **params)
            for item in page.get("items", []):
                yield item
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- the one place requests go out --------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        replayable: bool = False,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send, retrying within RELMAN_RETRY_SECONDS what is safe to send again; raise the problem of a 4xx/5xx."""
        deadline = time.monotonic() + self.settings.retry_seconds
        attempt, signed_in_again = 0, False
        while True:
            attempt += 1
            extra = dict(headers or {})
            if idempotency_key:
                extra["Idempotency-Key"] = idempotency_key
            if authenticate:
                extra |= self.credentials.header(self)
            retry_after: float | None = None
            answered: httpx.Response | None = None
            try:
                response = self.http.request(
                    method, self.base + path, params=params, json=json_body, headers=extra or None
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # never reached the service
                failure, again = f"cannot connect to {self.base}: {error}", True
            except httpx.TransportError as error:  # sent, maybe done, no answer
                failure, again = f"no answer from {self.base}: {error or type(error).__name__}", replayable
            else:
                status = response.status_code
                if status == 401 and authenticate and not signed_in_again and self.credentials.forget():
                    signed_in_again = True
                    continue
                if status in NOT_DONE or (status in MAYBE_DONE and replayable):
                    failure, again, answered = f"{method} {path} answered {status}", True, response
                    retry_after = _retry_after(response)
                elif status >= 400:
                    raise ApiError(status, _problem(response))
                else:
                    return response
            pause = _backoff(attempt) if retry_after is None else retry_after
            if not again or time.monotonic() + pause > deadline:
                if answered is not None:
                    raise ApiError(answered.status_code, _problem(answered))
                raise Unreachable(failure + (" (gave up retrying)" if again else ""))
            say(f"{failure}; retrying in {pause:.1f} s")
            time.sleep(pause)


def _backoff(attempt: int) -> float:
    """Exponential, capped at 10 s, with full jitter over its upper half."""
    ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    return {"title": response.reason_phrase, "status": response.status_code, "detail": response.text[:500]}
