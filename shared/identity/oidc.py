"""Verification of OIDC tokens (pipelines' keyless sign-in) and of Identity-Aware Proxy assertions.

Design note
- The callers: `POST /auth/exchange` calls `verify_oidc_token(token, trust=..., settings=...)` with
  the trust entries of the active service accounts, gets a `VerifiedToken` (claims and matching
  entries) and sizes its access token with `shared.identity.trust.exchanged_lifetime`. The IAP
  guard calls `verify_iap_assertion(assertion, settings=...)` and gets an `IapIdentity` (email,
  sub). Both raise `TokenRefused` (401: one answer whatever the reason, `.reason` for the log and
  the audit event) or `IssuerUnavailable` (503 with Retry-After: the keys could not be fetched, so
  nothing was decided). Nothing else escapes: never a 500, never an acceptance by default.
- Checks run cheapest and network-free first: the token's size, its JOSE header (`alg` pinned to
  RS256 or ES256, ES256 only for IAP; a `kid`), then its *unverified* `iss`, read only to choose
  the issuer: one that some given trust entry names and that `url_refusal` admits (https, or
  loopback http with OIDC_ALLOW_INSECURE_ISSUERS), else refused before any network call. `jku`,
  `x5u` and `jwk` headers are ignored: keys come only from the issuer's discovery document.
- Then the key by `kid` (`shared.identity.keys`: cached, bounded re-fetches), and PyJWT verifies:
  the signature with that key (the key's own algorithm must equal the header's, so an HS256 token
  "signed" with the public key as an HMAC secret, or `alg: none`, never verifies), `exp`, `nbf`,
  `iat` with `LEEWAY_S`, `aud` (any audience the issuer's entries name), `iss`. Times must be JSON
  numbers and `iat`/`nbf` no later than `exp`. Last, `shared.identity.trust.match_trust`.
- PyJWT is imported inside the functions: importing this module stays cheap for a function that
  never sees a token (PyJWT with `cryptography` costs ~150 ms at cold start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.identity.keys import keys_at, keys_for_issuer
from shared.identity.trust import TrustEntry, match_trust, no_match_reason
from shared.platform.urls import url_refusal

if TYPE_CHECKING:
    from jwt import PyJWK

    from shared.platform.settings import Settings

__all__ = [
    "IapIdentity",
    "IssuerUnavailable",
    "TokenRefused",
    "VerifiedToken",
    "verify_iap_assertion",
    "verify_oidc_token",
]

OIDC_ALGORITHMS = ("RS256", "ES256")
IAP_ALGORITHMS = ("ES256",)
IAP_ISSUER = "https://cloud.google.com/iap"
LEEWAY_S = 30  # clock skew admitted on exp, nbf and iat
MAX_TOKEN_CHARS = 16 * 1024  # far above any real ID token; refused before parsing
_REQUIRED = ["iss", "sub", "aud", "exp", "iat"]
_IAP_DETAIL = "The Identity-Aware Proxy assertion is not valid."


@dataclass(frozen=True)
class VerifiedToken:
    """An OIDC token whose signature, times, issuer and audience verified, and the trust entries
    (of active service accounts) it matches: at least one."""

    claims: Mapping[str, Any]
    matches: Sequence[TrustEntry]

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def expires_at(self) -> float:
        """The OIDC token's own `exp` (epoch seconds), for `exchanged_lifetime`."""
        return float(self.claims["exp"])


@dataclass(frozen=True)
class IapIdentity:
    """The person an Identity-Aware Proxy assertion speaks for."""

    email: str
    subject: str
    claims: Mapping[str, Any]


def verify_oidc_token(token: str, *, trust: Sequence[TrustEntry], settings: Settings) -> VerifiedToken:
    """Verify `token` against its issuer and return it with the entries of `trust` (the active
    service accounts' trust entries) it matches.

    Raises `TokenRefused` (`.reason` says why) or `IssuerUnavailable` (the issuer's discovery
    document or keys could not be fetched)."""
    alg, kid, unverified = _peek(token, OIDC_ALGORITHMS)
    issuer = unverified.get("iss")
    issuers = {entry.issuer for entry in trust}
    if not isinstance(issuer, str) or issuer not in issuers:
        raise TokenRefused(f"issuer {issuer!r} is named by no active trust entry")
    refusal = url_refusal(issuer, allow_insecure=settings.oidc_allow_insecure_issuers)
    if refusal is not None:
        raise TokenRefused(f"issuer {issuer!r} {refusal}")
    key = keys_for_issuer(
        issuer,
        algorithms=OIDC_ALGORITHMS,
        refresh_interval_s=settings.oidc_jwks_refresh_s,
        allow_insecure=settings.oidc_allow_insecure_issuers,
    ).key(kid)
    audiences = sorted({entry.audience for entry in trust if entry.issuer == issuer})
    claims = _verified(token, key, alg, issuer=issuer, audiences=audiences)
    matches = match_trust(claims, trust)
    if not matches:
        raise TokenRefused(no_match_reason(claims, trust))
    return VerifiedToken(claims=claims, matches=matches)


def verify_iap_assertion(assertion: str, *, settings: Settings) -> IapIdentity:
    """Verify an `x-goog-iap-jwt-assertion` (ES256, issuer `https://cloud.google.com/iap`,
    audience IAP_AUDIENCE, keys at IAP_JWKS_URL) and return whom it names.

    Raises `TokenRefused` (code `invalid_token`; also when IAP_AUDIENCE is unset) or
    `IssuerUnavailable` (IAP's keys could not be fetched)."""
    try:
        if not settings.iap_audience:
            raise TokenRefused("IAP_AUDIENCE is not set: IAP sign-in is off")
        alg, kid, _ = _peek(assertion, IAP_ALGORITHMS)
        key = keys_at(
            settings.iap_jwks_url, algorithms=IAP_ALGORITHMS, refresh_interval_s=settings.oidc_jwks_refresh_s
        ).key(kid)
        claims = _verified(assertion, key, alg, issuer=IAP_ISSUER, audiences=[settings.iap_audience])
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise TokenRefused("the assertion names no email")
    except TokenRefused as refused:
        raise TokenRefused(refused.reason, detail=_IAP_DETAIL, code="invalid_token") from None
    return IapIdentity(email=email, subject=str(claims["sub"]), claims=claims)


def _peek(token: str, algorithms: Sequence[str]) -> tuple[str, str, dict[str, Any]]:
    """The header's `alg` and `kid` and the unverified claims; refused when malformed or when the
    algorithm is not admitted. Nothing read here is trusted: it only chooses issuer and key."""
    import jwt

    if not isinstance(token, str) or not token:
        raise TokenRefused("no token")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefused(f"token longer than {MAX_TOKEN_CHARS} characters")
    try:
        header = jwt.get_unverified_header(token)
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise TokenRefused(f"malformed token: {error}") from None
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenRefused(f"alg {alg!r} is not admitted ({', '.join(algorithms)})")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("the header names no kid")
    return alg, kid, unverified


def _verified(token: str, key: PyJWK, alg: str, *, issuer: str, audiences: Sequence[str]) -> dict[str, Any]:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=issuer,
            audience=list(audiences),
            leeway=LEEWAY_S,
            options={"require": _REQUIRED, "strict_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused("expired") from None
    except jwt.ImmatureSignatureError as error:
        raise TokenRefused(f"not yet valid: {error}") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(f"aud names none of the trusted audiences {list(audiences)}") from None
    except jwt.PyJWTError as error:
        raise TokenRefused(f"{type(error).__name__}: {error}") from None
    times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
    if any(isinstance(value, bool) or not isinstance(value, int | float) for value in times.values()):
        raise TokenRefused("exp, iat and nbf must be numbers")
    if times["iat"] > times["exp"] or times.get("nbf", times["exp"]) > times["exp"]:
        raise TokenRefused("iat or nbf is later than exp")
    return claims
