"""The two ways a token check fails: refused (401, one answer for every reason) or undecidable
because the issuer cannot be reached (503)."""

from __future__ import annotations

from shared.errors import Unauthorized, Unavailable


class TokenRefused(Unauthorized):
    """The token is not accepted. `reason` is for the log line and the audit event only: the
    answer (`detail`, `code`) is the same whatever the reason, so a caller learns nothing from it."""

    code, title = "invalid_grant", "Token not trusted"

    def __init__(self, reason: str, *, detail: str = "The token is not trusted.", code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.reason = reason


class IssuerUnavailable(Unavailable):
    """The issuer's discovery document or keys could not be fetched (down, slow, or answering
    something that is not a usable JWK Set), so the token can be neither accepted nor refused."""

    def __init__(self, reason: str, *, retry_after: int) -> None:
        super().__init__(
            "The token's issuer cannot be reached to check its keys; try again shortly.", retry_after=retry_after
        )
        self.reason = reason
