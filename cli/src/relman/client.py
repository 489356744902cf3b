"""HTTP to the service: sign-in (a token, or keyless), bounded retries (tenacity), problems raised as ApiError."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import tenacity

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
    # The profile whose stored sign-in (`relman login`) is used when neither a token nor keyless is.
    profile: str = "default"
    # A person's command: a service that refuses connections fails it at once (a pipeline's retries).
    fail_fast: bool = False
    # Behind Identity-Aware Proxy: the person's Google credential (gcloud's) goes to IAP, which
    # vouches for them to the service; relman holds no session of its own.
    iap: bool = False

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
    """The bearer token: RELMAN_TOKEN as given; else an exchanged one (keyless), kept in memory and
    renewed before it expires; else the stored sign-in of `relman login`, renewed when spent."""

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http
        self._token: str | None = settings.token
        self._renew_at = float("inf")
        self._login: dict[str, Any] | None = None

    def header(self, client: Client) -> dict[str, str]:
        if self.settings.token:
            return {"Authorization": f"Bearer {self.settings.token}"}
        if self.settings.iap:
            if self._token is None:
                from relman import iap

                self._token = iap.google_token()
            return {"Proxy-Authorization": f"Bearer {self._token}"}
        if self.settings.keyless:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._exchange(client)
            return {"Authorization": f"Bearer {self._token}"}
        return {"Authorization": f"Bearer {self._signed_in(client)}"}

    def forget(self) -> bool:
        """Drop a token the service refused; True when a new one can be fetched (once)."""
        if self.settings.token:
            return False
        if self.settings.keyless or self.settings.iap:
            if self._token is None:
                return False
            self._token = None
            return True
        if self._login is None or self._login.get("access_expires_at") == 0:
            return False
        self._login = self._login | {"access_expires_at": 0}  # renewed at the next header
        return True

    def _signed_in(self, client: Client) -> str:
        from relman import logins

        store = logins.store()
        name = logins.key(self.settings.profile, self.settings.url)
        if self._login is None:
            self._login = store.load(name)
        if self._login is None:
            raise NotSignedIn(
                "not signed in: `relman login` (a person), or RELMAN_TOKEN or RELMAN_SERVICE_ACCOUNT (a pipeline)"
            )
        if not logins.fresh(self._login):
            with logins.renewing():
                stored = store.load(name)  # another relman may have renewed it meanwhile
                renewed_elsewhere = stored is not None and stored.get("access_token") != self._login.get("access_token")
                if stored is not None and renewed_elsewhere and logins.fresh(stored):
                    self._login = stored
                else:
                    self._login = self._renew(client, store, name, stored or self._login)
        return str(self._login["access_token"])

    def _renew(self, client: Client, store: Any, name: str, login: dict[str, Any]) -> dict[str, Any]:
        from relman import logins

        body = {"refresh_token": login.get("refresh_token")}
        try:
            response = client.send("POST", "/auth/refresh", json_body=body, authenticate=False)
        except ApiError as error:
            if error.status not in (400, 401, 422):
                raise
            store.save(name, None)
            raise NotSignedIn(f"your sign-in has ended ({error.code or error.status}): run `relman login`") from None
        renewed = logins.from_answer(response.json(), login.get("email"))
        store.save(name, renewed)
        return renewed

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
        try:
            parts = urlsplit(settings.url)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as error:
            raise RelmanError(f"RELMAN_URL is not a URL ({error}): {settings.url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RelmanError(f"RELMAN_URL must be an http(s) URL with a host, not {settings.url!r}")
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
        """Send, retrying within RELMAN_RETRY_SECONDS what `retryable` allows; raise the problem of a 4xx/5xx."""
        fixed = dict(headers or {}) | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
        signed_in_again = False

        def attempt() -> httpx.Response:
            nonlocal signed_in_again
            response = self._request(method, path, params, json_body, fixed, authenticate)
            if response.status_code == 401 and authenticate and not signed_in_again and self.credentials.forget():
                signed_in_again = True  # once: the exchanged token was refused, sign in anew
                response = self._request(method, path, params, json_body, fixed, authenticate)
            return response

        def say_retrying(state: tenacity.RetryCallState) -> None:
            say(f"{self._failure(method, path, _outcome(state))}; retrying in {state.upcoming_sleep:.1f} s")

        retrying = tenacity.Retrying(
            retry=lambda state: self._retries(_outcome(state), replayable=replayable),
            wait=_pause,
            stop=tenacity.stop_before_delay(self.settings.retry_seconds),
            before_sleep=say_retrying,
            retry_error_callback=lambda state: _outcome(state, reraise=True),  # budget spent: the last outcome
        )
        try:
            response: httpx.Response = retrying(attempt)
        except httpx.TransportError as error:
            if self.settings.fail_fast and isinstance(error, httpx.ConnectError):
                hint = "; is the URL right? `relman config` shows where it comes from"
                raise Unreachable(self._failure(method, path, error) + hint) from error
            gave_up = " (gave up retrying)" if retryable(error, replayable=replayable) else ""
            raise Unreachable(self._failure(method, path, error) + gave_up) from error
        if response.status_code >= 400:
            raise ApiError(response.status_code, _problem(response))
        return response

    def _retries(self, outcome: httpx.Response | BaseException, *, replayable: bool) -> bool:
        """`retryable`, but a person's command does not wait on a service that refuses connections."""
        if self.settings.fail_fast and isinstance(outcome, httpx.ConnectError):
            return False
        return retryable(outcome, replayable=replayable)

    def _request(
        self, method: str, path: str, params: Any, json_body: Any, headers: dict[str, str], authenticate: bool
    ) -> httpx.Response:
        extra = headers | (self.credentials.header(self) if authenticate else {})
        return self.http.request(method, self.base + path, params=params, json=json_body, headers=extra or None)

    def _failure(self, method: str, path: str, outcome: httpx.Response | BaseException) -> str:
        if isinstance(outcome, httpx.Response):
            return f"{method} {path} answered {outcome.status_code}"
        if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
            return f"cannot connect to {self.base}: {outcome}"
        return f"no answer from {self.base}: {outcome or type(outcome).__name__}"


def retryable(outcome: httpx.Response | BaseException, *, replayable: bool) -> bool:
    """Whether to send a request again: it never reached the service, or the service says it did nothing
    (429, 503); or it is replayable and may have been done (sent but unanswered, a gateway's 502/504)."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code in NOT_DONE or (outcome.status_code in MAYBE_DONE and replayable)
    if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    return isinstance(outcome, httpx.TransportError) and replayable


def _outcome(state: tenacity.RetryCallState, *, reraise: bool = False) -> Any:
    """The attempt's answer, or the exception it raised (raised again with `reraise`)."""
    done = state.outcome
    if done is None:  # tenacity sets it before it asks retry, wait, stop or before_sleep
        raise RuntimeError("no attempt made yet")
    if done.failed and not reraise:
        return done.exception()
    return done.result()


# Half the exponential step plus up to as much again at random (full jitter over its upper half), capped at 10 s.
_BACKOFF = tenacity.wait_exponential(multiplier=0.25, max=5) + tenacity.wait_random_exponential(multiplier=0.25, max=5)


def _pause(state: tenacity.RetryCallState) -> float:
    """The answer's Retry-After, else the backoff."""
    outcome = _outcome(state)
    after = _retry_after(outcome) if isinstance(outcome, httpx.Response) else None
    return _BACKOFF(state) if after is None else after


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
