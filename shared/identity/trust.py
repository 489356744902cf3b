"""Trust rules of keyless sign-in, as plain functions: no network, no database, no clock.

A service account trusts OIDC tokens through entries `{issuer, subject, audience, claims}`
(API.md, "Service accounts and keyless sign-in"). Once a token's signature and times are verified
(`shared.identity.oidc`), `match_trust` says which entries it satisfies: `iss` equals `issuer`
exactly, `aud` (a string or a list) contains `audience`, `sub` equals `subject` exactly (no
wildcards), and every key of `claims` equals the token's claim as JSON values (`true` is not `1`,
`"true"` is not `true`; a missing claim never matches).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.platform.urls import url_refusal

MAX_EXCHANGED_S = 3600  # an exchanged access token lives at most 1 h ...
BEYOND_OIDC_EXP_S = 3600  # ... and never beyond the OIDC token's own `exp` + 1 h
# Claims an entry may not pin in `claims`: checked by their own rules (or meaningless to pin).
RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp"})


@dataclass(frozen=True, eq=False)
class TrustEntry:
    """One trust entry of one active service account."""

    service_account_id: uuid.UUID | str
    issuer: str
    subject: str
    audience: str
    claims: Mapping[str, Any] = field(default_factory=dict)


def match_trust(claims: Mapping[str, Any], entries: Iterable[TrustEntry]) -> list[TrustEntry]:
    """The entries that verified `claims` satisfy, in the order given (callers pass active ones)."""
    return [entry for entry in entries if mismatch(claims, entry) is None]


def mismatch(claims: Mapping[str, Any], entry: TrustEntry) -> str | None:
    """Why `claims` do not satisfy `entry` (one short phrase for the log), or None when they do."""
    if not _same_json(claims.get("iss"), entry.issuer):
        return "iss differs"
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or not any(_same_json(a, entry.audience) for a in audiences):
        return "aud does not contain the audience"
    if not _same_json(claims.get("sub"), entry.subject):
        return "sub differs"
    for name, expected in entry.claims.items():
        if name not in claims:
            return f"claim {name} missing"
        if not _same_json(claims[name], expected):
            return f"claim {name} differs"
    return None


def no_match_reason(claims: Mapping[str, Any], entries: Sequence[TrustEntry], *, limit: int = 5) -> str:
    """One line for the log and the audit event when no entry matches: the token's `sub` and, for
    the first few entries of its issuer, why each did not match."""
    reasons = [
        f"{entry.service_account_id}: {mismatch(claims, entry)}"
        for entry in entries
        if entry.issuer == claims.get("iss")
    ]
    shown = "; ".join(reasons[:limit]) + (f"; and {len(reasons) - limit} more" if len(reasons) > limit else "")
    return f"no active trust entry matches sub {claims.get('sub')!r} ({shown or 'none for this issuer'})"


def trust_entry_refusal(
    *, issuer: str, subject: str, audience: str, claims: Mapping[str, Any], allow_insecure: bool
) -> str | None:
    """Why a trust entry would be refused when a service account is saved, or None."""
    refusal = url_refusal(issuer, allow_insecure=allow_insecure)
    if refusal is not None:
        return f"issuer {refusal}"
    if not subject.strip():
        return "subject must not be empty"
    if not audience.strip():
        return "audience must not be empty"
    pinned = sorted(RESERVED_CLAIMS.intersection(claims))
    if pinned:
        return f"claims must not pin {', '.join(pinned)} (issuer, subject and audience say those)"
    return None


def exchanged_lifetime(now: datetime, oidc_exp: float, max_s: int = MAX_EXCHANGED_S) -> int:
    """Seconds the access token issued for an OIDC token may live: at most `max_s`, at most 1 h,
    and never beyond the OIDC token's own `exp` (epoch seconds) + 1 h. 0 means issue none."""
    remaining = oidc_exp + BEYOND_OIDC_EXP_S - now.timestamp()
    return max(0, int(min(max_s, MAX_EXCHANGED_S, remaining)))


def _same_json(a: object, b: object) -> bool:
    """Equality of JSON values: booleans equal only booleans, numbers only numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return False
