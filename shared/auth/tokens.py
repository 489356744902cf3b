"""Access JWTs, opaque refresh tokens and `rm_` API tokens."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from jwt.utils import base64url_decode

from shared.errors import Unauthorized
from shared.platform.settings import Settings

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
API_TOKEN_PREFIX = "rm_"  # noqa: S105 - a public marker, not a secret
SESSION = "session"  # the credential of an interactive login (a JWT from /auth/login or /auth/refresh)
_REQUIRED_CLAIMS = ["sub", "role", "type", "iat", "exp", "jti", "iss", "aud"]
CLOCK_SKEW_S = 60  # how far another instance's clock may run ahead when it issues a token
SERVICE_ACCOUNT_SUB = "sa:"  # the `sub` of an access token issued to a service account: "sa:<id>"
SERVICE_ACCOUNT_MAX_S = 3600  # such a token lives at most this long (shared.identity.trust.MAX_EXCHANGED_S)


def issue_access_token(
    settings: Settings, *, user_id: object, role: str, auth_version: int, now: datetime
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "role": role,
        "type": ACCESS_TYPE,
        "ver": auth_version,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    token = jwt.encode(claims, settings.signing_key(), algorithm=ALGORITHM, headers={"typ": "JWT"})
    return token, int(lifetime.total_seconds())


def issue_service_account_token(
    settings: Settings, *, service_account_id: object, role: str, auth_version: int, now: datetime, lifetime_s: int
) -> str:
    """A signed access token for a service account (`sub` "sa:<id>"), living `lifetime_s` seconds."""
    claims = {
        "sub": f"{SERVICE_ACCOUNT_SUB}{service_account_id}",
        "role": role,
        "type": ACCESS_TYPE,
        "ver": auth_version,
        "iat": now,
        "exp": now + timedelta(seconds=min(lifetime_s, SERVICE_ACCOUNT_MAX_S)),
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.signing_key(), algorithm=ALGORITHM, headers={"typ": "JWT"})


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    """Verify signature, algorithm, issuer, audience, expiry, required claims and type.

    `exp` must be a number no further ahead than the lifetime we issue: a token claiming to live
    longer was not made by `issue_access_token` with today's settings.
    """
    claims = _verified(token, settings.signing_key(), settings.jwt_issuer, settings.jwt_audience)
    # The signature check is remembered per token; the expiry is checked on every use.
    now = time.time()
    if claims["exp"] <= now:
        raise Unauthorized("The access token has expired.", code="token_expired")
    longest = (
        SERVICE_ACCOUNT_MAX_S
        if str(claims["sub"]).startswith(SERVICE_ACCOUNT_SUB)
        else settings.access_token_minutes * 60
    )
    if claims["exp"] > now + longest + CLOCK_SKEW_S:
        raise Unauthorized("The access token claims a longer life than any we issue.", code="invalid_token")
    return dict(claims)


@functools.lru_cache(maxsize=4096)
def _verified(token: str, key: str, issuer: str, audience: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The access token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    if claims.get("type") != ACCESS_TYPE:
        raise Unauthorized("This is not an access token.", code="invalid_token")
    # PyJWT accepts any value int() takes ("123", true); we issue only JSON numbers.
    if not all(_is_number(claims[name]) for name in ("exp", "iat")):
        raise Unauthorized("The access token is not valid.", code="invalid_token")
    return claims


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_refresh_token() -> str:
    """An opaque, high-entropy refresh token (only its hash is stored)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """sha256 of a high-entropy secret: enough for tokens (passwords use Argon2id)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiTokenParts:
    prefix: str
    secret: str


def new_api_token() -> tuple[str, ApiTokenParts]:
    """`rm_<prefix>_<secret>`: the prefix finds the row, the secret's hash proves possession."""
    parts = ApiTokenParts(prefix=secrets.token_hex(6), secret=secrets.token_urlsafe(32))
    return f"{API_TOKEN_PREFIX}{parts.prefix}_{parts.secret}", parts


def parse_api_token(token: str) -> ApiTokenParts:
    """Split an API token, or raise 401 if it is not one."""
    body = token.removeprefix(API_TOKEN_PREFIX)
    prefix, _, secret = body.partition("_")
    if not token.startswith(API_TOKEN_PREFIX) or len(prefix) != 12 or not secret:
        raise Unauthorized("The API token is not valid.", code="invalid_token")
    return ApiTokenParts(prefix=prefix, secret=secret)


def secret_matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


# What an OIDC issuer signs with; our own access tokens are HS256 (ALGORITHM).
OIDC_ALGORITHMS = ("RS256", "ES256")


def signed_asymmetrically(token: str) -> bool:
    """Does the token's (unverified) header name an OIDC issuer's algorithm rather than ours?"""
    if _header_algorithm(token.partition(".")[0]) not in OIDC_ALGORITHMS:
        return False  # ours (or no JWT at all), told from the header alone
    try:
        return jwt.get_unverified_header(token).get("alg") in OIDC_ALGORITHMS
    except jwt.PyJWTError:
        return False


@functools.lru_cache(maxsize=64)
def _header_algorithm(segment: str) -> object:
    """The `alg` a JWT's first segment names, None if it is not a JWT header. Remembered: clients
    send the same few headers (ours is always the same), and decoding one was a sixth of a cache hit."""
    try:
        header = json.loads(base64url_decode(segment))
    except ValueError:  # bad base64 (binascii.Error), JSON or UTF-8
        return None
    return header.get("alg") if isinstance(header, dict) else None
