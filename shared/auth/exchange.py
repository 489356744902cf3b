"""Keyless sign-in: the RFC 8693 exchange of a trusted OIDC token for a short-lived access token of
the one service account it speaks for (`POST /auth/exchange`), and the same match for the events
dispatch's raw OIDC bearer (the guard).

- The exchange verifies the token against every active account's trust entries. Exactly one
  account must match, or the caller names one of those that match (`service_account`, id or
  name); anything else is the same 401 `invalid_grant`, the reason in the log and audit event.
- The issued token lives `exchanged_lifetime(...)`: at most 1 h, never beyond the OIDC token's
  `exp` + 1 h. Every exchange is audited: `service_account.exchanged` or
  `service_account.exchange_refused` (committed although the request fails).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles, tokens
from shared.auth.callers import service_account_state
from shared.auth.ratelimit import AuthLimiter
from shared.auth.schemas import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE, ExchangeIn
from shared.auth.tables import service_accounts
from shared.errors import BadRequest
from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.identity.trust import TrustEntry, exchanged_lifetime
from shared.platform.settings import Settings
from shared.platform.work import UnitOfWork

if TYPE_CHECKING:
    from shared.identity.oidc import VerifiedToken

log = logging.getLogger(__name__)


def _unverified(token: str) -> dict[str, Any]:
    """The token's `iss` and `sub` as it claims them (for the audit event of a refusal only)."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return {k: str(claims[k])[:200] for k in ("iss", "sub") if k in claims}


def _refuse(
    work: UnitOfWork, error: TokenRefused | IssuerUnavailable, *, token: str, client: str, requested: str | None
) -> None:
    """Audit a refused (or undecidable) exchange, keep the record although the request fails, and raise."""
    claimed = _unverified(token)
    log.warning("token exchange refused: %s", error.reason, extra={"client": client, **claimed})
    audit.record(
        work,
        actor=f"anonymous:{client}",
        action="service_account.exchange_refused",
        entity_type="service_account",
        entity_id=requested or "unknown",
        data={
            "reason": error.reason,
            "client": client,
            "issuer": claimed.get("iss"),
            "subject": claimed.get("sub"),
            "unavailable": isinstance(error, IssuerUnavailable),
        },
    )
    work.commit()
    raise error


def match_oidc_token(
    work: UnitOfWork, *, settings: Settings, token: str, client: str, service_account: str | None = None
) -> tuple[Any, VerifiedToken, int]:
    """The one active service account whose trust policy a verified OIDC token matches, the verified
    token and how long what it grants may live. A refusal is audited and kept (401 `invalid_grant`,
    the same for every reason); an unreachable issuer is 503."""
    from shared.identity.oidc import verify_oidc_token

    active = {row.id: row for row in work.conn.execute(sa.select(service_accounts).where(service_accounts.c.is_active))}
    entries = [
        TrustEntry(row.id, e["issuer"], e["subject"], e["audience"], e.get("claims") or {})
        for row in active.values()
        for e in row.trust
    ]
    try:
        if not entries:
            raise TokenRefused("no active service account trusts any token")
        verified = verify_oidc_token(token, trust=entries, settings=settings)
        candidates = sorted({m.service_account_id for m in verified.matches}, key=str)
        if service_account is not None:
            candidates = [c for c in candidates if service_account in (str(c), active[c].name)]
            if not candidates:
                raise TokenRefused(f"the token matches no trust entry of service account {service_account!r}")
        if len(candidates) > 1:
            names = ", ".join(active[c].name for c in candidates)
            raise TokenRefused(f"ambiguous: the token matches service accounts {names}; name one")
        chosen = active[candidates[0]]
        lifetime = exchanged_lifetime(work.now, verified.expires_at)
        if lifetime <= 0:
            raise TokenRefused("the token expired over an hour ago")
    except (TokenRefused, IssuerUnavailable) as error:
        _refuse(work, error, token=token, client=client, requested=service_account)
        raise  # unreachable: _refuse raises
    return chosen, verified, lifetime


def check_request(body: ExchangeIn) -> None:
    """400 unless the body asks for an RFC 8693 token exchange of an ID token (or a JWT) for an access token."""
    if body.grant_type != TOKEN_EXCHANGE:
        raise BadRequest(f"grant_type must be {TOKEN_EXCHANGE}.", code="unsupported_grant_type")
    if body.subject_token_type not in (ID_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise BadRequest(f"subject_token_type must be {ID_TOKEN_TYPE} or {JWT_TOKEN_TYPE}.", code="invalid_request")
    if body.requested_token_type not in (None, ACCESS_TOKEN_TYPE):
        raise BadRequest(f"requested_token_type, if given, must be {ACCESS_TOKEN_TYPE}.", code="invalid_request")


def exchange(
    work: UnitOfWork, body: ExchangeIn, *, settings: Settings, limiter: AuthLimiter, client: str
) -> dict[str, Any]:
    """RFC 8693: a verified OIDC token that active trust policies match → an access token for the
    one service account it speaks for."""
    limiter.reserve_exchange(client=client)
    check_request(body)
    chosen, verified, lifetime = match_oidc_token(
        work, settings=settings, token=body.subject_token, client=client, service_account=body.service_account
    )
    grants = roles.service_account_grants(service_account_state(work.conn, chosen.id) or {})
    access = tokens.issue_service_account_token(
        settings,
        service_account_id=chosen.id,
        role=roles.highest(grants) or roles.SERVICE_ACCOUNT_BASELINE,
        auth_version=chosen.auth_version,
        now=work.now,
        lifetime_s=lifetime,
    )
    audit.record(
        work,
        actor=str(chosen.id),
        action="service_account.exchanged",
        entity_type="service_account",
        entity_id=chosen.id,
        data={
            "name": chosen.name,
            "issuer": verified.issuer,
            "subject": verified.subject,
            "client": client,
            "expires_in": lifetime,
            "expires_at": datetime.fromtimestamp(work.now.timestamp() + lifetime, tz=UTC).isoformat(),
        },
    )
    return {
        "access_token": access,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "bearer",
        "expires_in": lifetime,
    }


def bearer_account(*, settings: Settings, limiter: AuthLimiter, token: str, client: str) -> tuple[Any, VerifiedToken]:
    """A service account's own OIDC token presented as a bearer (the guard's events-dispatch path):
    the account it speaks for and the verified token, checked exactly as an exchange checks one,
    with its limit per address and its audited refusals, in a unit of work of its own."""
    from shared.platform.work import unit_of_work

    limiter.reserve_exchange(client=client)
    with unit_of_work() as work:
        chosen, verified, _ = match_oidc_token(work, settings=settings, token=token, client=client)
    return chosen, verified
