"""Request bodies of the auth function (unknown fields are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, ConfigDict, EmailStr, Field

from shared.auth.roles import Role
from shared.models import Strict

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
