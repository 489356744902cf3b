"""Request bodies of the auth function (unknown fields are refused), and what it answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, ConfigDict, EmailStr, Field

from shared.auth.roles import Role
from shared.models import Out, Strict

Password = Field(min_length=12, max_length=128)


class RegisterIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "a long passphrase", "display_name": "Ada"}]
        },
    )

    email: EmailStr = Field(max_length=254)
    password: str = Password
    display_name: str = Field(min_length=1, max_length=100)


class LoginIn(Strict):
    """JSON `{email, password}`, or the OAuth2 password form (`username`, `password`, ...)."""

    email: str = Field(min_length=1, max_length=254, validation_alias=AliasChoices("email", "username"))
    password: str = Field(min_length=1, max_length=1024)
    # What OAuth2 password-grant clients also send; accepted and not used.
    grant_type: Literal["password"] | None = None
    scope: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=255)
    client_secret: str | None = Field(default=None, max_length=255)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class ChangePasswordIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Password


class UserPatch(Strict):
    role: Role | None = None
    is_active: bool | None = None


class TokenIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "ci-deployer", "role": "developer", "expires_in_days": 90}]},
    )

    name: str = Field(min_length=1, max_length=100)
    role: Role
    expires_in_days: int = Field(default=90, ge=1, le=365)


# -- responses ------------------------------------------------------------------------------------


class UserOut(Out):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime


class CredentialOut(Out):
    kind: Literal["api_token"] = Field(description="The kind of credential this request was made with.")
    role: Role = Field(
        description="What this credential may do now: the token's role, or its owner's role if that is lower."
    )
    expires_at: datetime


class MeOut(UserOut):
    role: Role = Field(description="The account's role. With an API token, the request may do `token.role`.")
    token: CredentialOut | None = Field(description="For an API token, what it may do; null for a login session.")


class TokenPairOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class ApiTokenOut(Out):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str | None = Field(
        description="The secret, in the first response only (stored only as a hash). "
        "null when this answer replays an earlier request with the same Idempotency-Key."
    )
    note: str | None = Field(
        default=None, description="On an Idempotency-Key replay: why `token` is null and what to do."
    )
