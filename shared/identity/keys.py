"""Issuers' signing keys: OpenID discovery, JWK Sets, in-memory caches, and a bound on re-fetches.

Design note
- Fetching and parsing are PyJWT's. `PyJWKClient.fetch_data` GETs a URL with urllib (http(s) only,
  no redirects followed, a timeout) and returns a JSON object or raises; `PyJWKSet` turns a JWK Set
  into keys, each bound to one algorithm (its `alg`, else its `kty`/`crv`), skipping keys it cannot
  use. PyJWKClient's own caches are not used: its cool-down starts only after a *successful* fetch,
  so an issuer that is down would be asked again by every request carrying an unknown `kid`.
- One `KeySet` per issuer (per IAP key URL) per process, found by `keys_for_issuer` / `keys_at`.
  It remembers the keys (fresh for `JWKS_TTL_S`), the `jwks_uri` from discovery (for
  `DISCOVERY_TTL_S`), and when it last asked the network and whether that failed.
- A fetch happens when the keys are missing or stale, or the token's `kid` is unknown, and never
  twice within `OIDC_JWKS_REFRESH_S` (`refresh_interval_s`): a flood of tokens with made-up `kid`s
  costs the issuer one request per interval. Within the interval an unknown `kid` is refused, and
  after a failed fetch every request that needs the network gets `IssuerUnavailable` (503) at once.
  Tokens whose `kid` is known and fresh never wait for the network, even while the issuer is down.
- Only keys usable for signing with an admitted algorithm are kept (RS256/ES256 for OIDC issuers,
  ES256 for IAP), so an HMAC (`oct`) key an issuer might publish can never verify anything.
- A lock per key set makes concurrent requests share one fetch; it is held during the fetch (at
  most `FETCH_TIMEOUT_S` per URL), which only delays requests for that same issuer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.platform.urls import url_refusal

if TYPE_CHECKING:
    from jwt import PyJWK

JWKS_TTL_S = 300.0  # keys are re-read this often even when every kid is known (rotation, revocation)
DISCOVERY_TTL_S = 3600.0  # the jwks_uri from discovery is re-read this often (and after a failed fetch)
FETCH_TIMEOUT_S = 5.0  # per HTTP request
WELL_KNOWN = "/.well-known/openid-configuration"


class _FetchFailed(Exception):
    """The network or the issuer's answer failed us; the message says which URL and how."""


class KeySet:
    """The signing keys of one issuer (found through discovery) or at one JWK Set URL."""

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        algorithms: Collection[str],
        refresh_interval_s: float,
        allow_insecure: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (issuer is None) == (jwks_url is None):
            raise ValueError("give exactly one of issuer and jwks_url")
        self.issuer = issuer
        self.name = issuer or jwks_url or ""
        self._fixed_jwks_url = jwks_url
        self._algorithms = frozenset(algorithms)
        self._interval = refresh_interval_s
        self._allow_insecure = allow_insecure
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failure: str | None = None
        self._jwks_url: str | None = None
        self._discovered_at: float | None = None

    def key(self, kid: str) -> PyJWK:
        """The key with this `kid`, fetching the keys if they are missing, stale or lack it (at most
        once per interval). Raises `TokenRefused` for a `kid` the issuer does not publish and
        `IssuerUnavailable` when the keys cannot be fetched."""
        with self._lock:
            now = self._clock()
            fresh = self._fetched_at is not None and now - self._fetched_at < JWKS_TTL_S
            if fresh and kid in self._keys:
                return self._keys[kid]
            since = None if self._attempted_at is None else now - self._attempted_at
            if since is None or since >= self._interval:
                self._refresh(now)
                if kid in self._keys:
                    return self._keys[kid]
                raise TokenRefused(f"kid {kid!r} is not among the keys of {self.name} (just fetched)")
            if self._failure is not None:
                raise IssuerUnavailable(
                    f"{self._failure} ({since:.1f} s ago; next try in {self._interval - since:.1f} s)",
                    retry_after=max(1, math.ceil(self._interval - since)),
                )
            if kid in self._keys:  # stale, but fetched within the interval (an interval above the TTL)
                return self._keys[kid]
            raise TokenRefused(
                f"kid {kid!r} is not among the keys of {self.name} "
                f"(fetched {since:.1f} s ago; no re-fetch for {self._interval - since:.1f} s)"
            )

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = self._fetch_keys(self._fixed_jwks_url or self._discover(now))
        except _FetchFailed as failed:
            self._failure = str(failed)
            self._discovered_at = None  # the issuer may have moved its keys: discover again next time
            raise IssuerUnavailable(self._failure, retry_after=max(1, math.ceil(self._interval))) from None
        self._keys, self._fetched_at, self._failure = keys, now, None

    def _discover(self, now: float) -> str:
        if (
            self._jwks_url is not None
            and self._discovered_at is not None
            and now - self._discovered_at < DISCOVERY_TTL_S
        ):
            return self._jwks_url
        issuer = self.issuer or ""
        url = issuer.rstrip("/") + WELL_KNOWN
        document = _get_json(url)
        if document.get("issuer") != issuer:
            raise _FetchFailed(f"{url}: names issuer {document.get('issuer')!r}, not {issuer!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise _FetchFailed(f"{url}: no jwks_uri")
        refusal = url_refusal(jwks_uri, allow_insecure=self._allow_insecure)
        if refusal is not None:
            raise _FetchFailed(f"{url}: jwks_uri {refusal}")
        self._jwks_url, self._discovered_at = jwks_uri, now
        return jwks_uri

    def _fetch_keys(self, url: str) -> dict[str, PyJWK]:
        from jwt import PyJWKSet, PyJWTError

        try:
            jwk_set = PyJWKSet.from_dict(_get_json(url))
        except PyJWTError as error:
            raise _FetchFailed(f"{url}: {error}") from None
        keys = {
            key.key_id: key
            for key in jwk_set.keys
            if isinstance(key.key_id, str)
            and key.key_id
            and key.public_key_use in ("sig", None)
            and key.algorithm_name in self._algorithms
        }
        if not keys:
            raise _FetchFailed(f"{url}: no signing key for {', '.join(sorted(self._algorithms))}")
        return keys


def _get_json(url: str) -> dict[str, Any]:
    """GET a JSON object through PyJWT's fetcher; anything else is `_FetchFailed`."""
    from jwt import PyJWKClient, PyJWTError  # jwt (cryptography, urllib.request) costs ~150 ms: only on use

    try:
        data = PyJWKClient(url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_S).fetch_data()
    except (PyJWTError, ValueError, OSError) as error:  # connection, HTTP status, not JSON, not an object
        raise _FetchFailed(f"{url}: {error}") from None
    if not isinstance(data, dict):
        raise _FetchFailed(f"{url}: not a JSON object")
    return data


_REGISTRY_LOCK = threading.Lock()
_REGISTRY: dict[tuple[object, ...], KeySet] = {}


def keys_for_issuer(
    issuer: str, *, algorithms: Collection[str], refresh_interval_s: float, allow_insecure: bool
) -> KeySet:
    """The process's key set for an OIDC issuer (its URL already admitted by `url_refusal`)."""
    return _shared(
        ("issuer", issuer, frozenset(algorithms), refresh_interval_s, allow_insecure),
        lambda: KeySet(
            issuer=issuer, algorithms=algorithms, refresh_interval_s=refresh_interval_s, allow_insecure=allow_insecure
        ),
    )


def keys_at(jwks_url: str, *, algorithms: Collection[str], refresh_interval_s: float) -> KeySet:
    """The process's key set for a JWK Set served directly at a URL (IAP's)."""
    return _shared(
        ("jwks", jwks_url, frozenset(algorithms), refresh_interval_s),
        lambda: KeySet(
            jwks_url=jwks_url, algorithms=algorithms, refresh_interval_s=refresh_interval_s, allow_insecure=False
        ),
    )


def clear_caches() -> None:
    """Forget every key set (tests: each starts from an empty cache)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


def _shared(key: tuple[object, ...], make: Callable[[], KeySet]) -> KeySet:
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = make()
        return found
