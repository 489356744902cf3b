"""Request bodies of the auth function (unknown fields are refused), and what it answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, ConfigDict, EmailStr, Field

from shared.auth.roles import Role
from shared.models import Out, Strict
from shared.names import SLUG_PATTERN
from shared.pagination import PageQuery

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
    iap_link: bool | None = Field(
        default=None,
        description="true: the next Identity-Aware Proxy assertion for the account's email attaches to it "
        "(replacing any identity attached before); false: no IAP identity may use it.",
    )


class TokenIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "ci-deployer", "role": "developer", "expires_in_days": 90}]},
    )

    name: str = Field(min_length=1, max_length=100)
    role: Role
    expires_in_days: int = Field(default=90, ge=1, le=365)


SubjectType = Literal["user", "team", "service_account"]
Slug = Field(pattern=SLUG_PATTERN)


class TeamIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "payments", "display_name": "Payments"}]}
    )

    name: str = Field(pattern=SLUG_PATTERN, description="Lowercase slug, unique.")
    display_name: str = Field(min_length=1, max_length=100)


class SubjectIn(Strict):
    type: SubjectType
    id: uuid.UUID


class BindingIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"type": "team", "id": "5b1e4c2a-0d5e-4f3b-9a51-3c2f1e0d9b7a"},
                    "role": "developer",
                    "application": "checkout",
                },
                {
                    "subject": {"type": "user", "id": "0d6f1c9e-7a43-4bb1-8e2c-2a1f5e3d4c6b"},
                    "role": "release_manager",
                    "application": "checkout",
                    "environments": ["production"],
                },
            ]
        },
    )

    subject: SubjectIn
    role: Role
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="None: every application.")
    environments: list[Annotated[str, Slug]] | None = Field(
        default=None, min_length=1, max_length=50, description="None: every environment."
    )


class BindingQuery(PageQuery):
    subject_type: SubjectType | None = None
    subject_id: uuid.UUID | None = None
    application: str | None = Field(default=None, pattern=SLUG_PATTERN)


# -- responses ------------------------------------------------------------------------------------


class UserOut(Out):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    is_active: bool
    iap_subject: str | None = Field(
        description="The Identity-Aware Proxy identity (`sub`) this account is, once attached; null: none."
    )
    iap_link_pending: bool = Field(
        description="An admin linked the account to IAP: the next IAP assertion for its email attaches to it."
    )
    created_at: datetime


class CredentialOut(Out):
    kind: Literal["api_token", "service_account"] = Field(
        description="The kind of credential this request was made with: an `rm_` API token, or an access "
        "token a service account got at `/auth/exchange`."
    )
    role: Role = Field(
        description="What this credential may do now: the token's role, or its owner's role if that is lower; "
        "for a service account, the highest role its bindings give."
    )
    expires_at: datetime


class SubjectOut(Out):
    type: SubjectType
    id: uuid.UUID


class BindingOut(Out):
    id: uuid.UUID
    subject: SubjectOut
    role: Role
    application: str | None = Field(description="null: every application.")
    environments: list[str] | None = Field(description="null: every environment.")
    created_by: uuid.UUID
    created_at: datetime


class EffectiveBindingOut(BindingOut):
    team: str | None = Field(description="The team through which the caller holds it; null for a direct binding.")


class MeOut(UserOut):
    email: str = Field(description="The user's email; for a service account, `NAME@service-accounts`.")
    role: Role = Field(
        description="The account's organisation-wide role. With an API token, the request may do `token.role`."
    )
    token: CredentialOut | None = Field(description="For an API token, what it may do; null for a login session.")
    teams: list[str] = Field(description="The teams the caller belongs to.")
    bindings: list[EffectiveBindingOut] = Field(
        description="The caller's role bindings, direct or through a team; with an API token, each role is "
        "capped at the token's."
    )


class MemberOut(Out):
    user_id: uuid.UUID
    email: str
    display_name: str
    added_at: datetime


class TeamOut(Out):
    id: uuid.UUID
    name: str
    display_name: str
    created_by: uuid.UUID
    created_at: datetime


class TeamDetailOut(TeamOut):
    members: list[MemberOut]


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


# -- service accounts and keyless sign-in --------------------------------------------------------------

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type, not a secret
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105


class TrustEntryIn(Strict):
    issuer: str = Field(
        min_length=1, max_length=500, description="The OIDC issuer, exactly as its tokens' `iss` (https://)."
    )
    subject: str = Field(min_length=1, max_length=500, description="The token's `sub`, exactly (no wildcards).")
    audience: str = Field(min_length=1, max_length=500, description="A value the token's `aud` must contain.")
    claims: dict[str, str | int | bool] = Field(
        default_factory=dict,
        max_length=20,
        description="Further claims the token must carry with exactly these values (say `email`, "
        "`email_verified` for Google, `repository`, `ref` for GitHub).",
    )


class ServiceAccountIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "checkout-deployer",
                    "display_name": "Checkout's Cloud Build",
                    "trust": [
                        {
                            "issuer": "https://accounts.google.com",
                            "subject": "112233445566778899000",
                            "audience": "https://release-manager.example.com",
                            "claims": {"email": "deployer@acme.iam.gserviceaccount.com", "email_verified": True},
                        }
                    ],
                }
            ]
        },
    )

    name: str = Field(pattern=SLUG_PATTERN, description="Lowercase slug, unique.")
    display_name: str = Field(min_length=1, max_length=100)
    trust: list[TrustEntryIn] = Field(max_length=20, description="The OIDC tokens this account trusts.")


class ServiceAccountPatch(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    trust: list[TrustEntryIn] | None = Field(default=None, max_length=20)
    is_active: bool | None = None


class TrustEntryOut(Out):
    issuer: str
    subject: str
    audience: str
    claims: dict[str, str | int | bool]


class ServiceAccountOut(Out):
    id: uuid.UUID
    name: str
    display_name: str
    trust: list[TrustEntryOut]
    is_active: bool
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ExchangeIn(Strict):
    """An RFC 8693 token exchange request (JSON or form)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "grant_type": TOKEN_EXCHANGE,
                    "subject_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9...",
                    "subject_token_type": ID_TOKEN_TYPE,
                    "service_account": "checkout-deployer",
                }
            ]
        },
    )

    grant_type: str = Field(max_length=200, description=f"`{TOKEN_EXCHANGE}`; anything else is 400.")
    subject_token: str = Field(min_length=1, max_length=16 * 1024, description="The OIDC (ID) token.")
    subject_token_type: str = Field(max_length=200, description=f"`{ID_TOKEN_TYPE}` or `{JWT_TOKEN_TYPE}`.")
    service_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The service account (id or name) to act as, when several trust the token.",
    )
    requested_token_type: str | None = Field(
        default=None, max_length=200, description=f"If given, `{ACCESS_TOKEN_TYPE}`."
    )
    # Sent by some RFC 8693 clients; accepted and not used.
    audience: str | None = Field(default=None, max_length=500)
    scope: str | None = Field(default=None, max_length=1000)


class ExchangeOut(Out):
    access_token: str
    issued_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"]
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds: at most 3600, and never beyond the OIDC token's own `exp` + 1 h.")
