"""Who is calling: the one value every service takes as `caller`, built by the guard per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.auth import roles
from shared.auth.tokens import SESSION
from shared.platform.namespaces import USERS_NAMESPACE


@dataclass(frozen=True)
class Principal:
    """Who is calling, with which effective role, through which kind of credential."""

    user_id: uuid.UUID
    email: str
    role: str
    token_id: uuid.UUID | None = None
    # "session" (a login's JWT, or a person behind Identity-Aware Proxy), "api_token" or
    # "service_account" (an access token from /auth/exchange; `user_id` is then the service account's id);
    # a non-session credential's expiry.
    credential: str = SESSION
    token_expires_at: datetime | None = None
    # The org-wide role (a Grant with no scope) and every binding, capped at an API token's role.
    grants: tuple[roles.Grant, ...] = ()
    teams: tuple[str, ...] = ()
    # A service account's name (None for a person).
    service_account_name: str | None = None

    @property
    def actor(self) -> str:
        return str(self.user_id)

    @property
    def is_admin(self) -> bool:
        """An organisation-wide admin (an admin of one application is not)."""
        return self.role == "admin"

    @property
    def top_role(self) -> str:
        """The highest role any grant gives, whatever its scope."""
        return roles.highest(self.grants) or self.role

    @property
    def token(self) -> dict[str, Any] | None:
        """What a non-session credential may do: its kind, effective role and expiry (None for a session)."""
        if self.credential == SESSION:
            return None
        # A service account's token may do what its highest binding gives (scoped, as each service checks).
        role = self.top_role if self.credential == "service_account" else self.role
        return {"kind": self.credential, "role": role, "expires_at": self.token_expires_at}

    @property
    def account_key(self) -> tuple[str, str]:
        """Where `/auth/me` is cached for this caller through this credential: beside the callers'
        own state (USERS_NAMESPACE), so whatever change the guard sees at once (a role, a binding, a
        team, a deactivation, a new password) `/auth/me` shows at once too. The credential's own id
        and expiry are in the key, as the answer shows what that credential may do, until when."""
        expires = int(self.token_expires_at.timestamp()) if self.token_expires_at is not None else "-"
        return USERS_NAMESPACE, f"me:{self.credential}:{self.user_id}:{self.token_id or '-'}:{expires}"
