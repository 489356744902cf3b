"""Settings: one class, read from the environment once per instance."""

from __future__ import annotations

import functools
import os
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from shared.platform.secrets import SecretManagerReferences

Environment = Literal["development", "test", "staging", "production"]

# Known-bad values: refused as secrets anywhere but development and test.
_PLACEHOLDERS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "dev-only-insecure-jwt-key-change-me-please",
    "dev-only-insecure-audit-key-change-me-please",
}
DEV_JWT_SECRET = "dev-only-insecure-jwt-key-change-me-please"  # noqa: S105 - refused outside development
DEV_AUDIT_KEY = "dev-only-insecure-audit-key-change-me-please"  # refused outside development


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line that names it."""


class Settings(BaseSettings):
    """Every setting of the three functions. Environment variable = field name in capitals."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    app_name: str = Field(
        default="release-manager",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Names our database and cache sessions.",
    )
    app_version: str = "0.1.0"
    environment: Environment = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    gcp_project_id: str | None = None
    gcp_region: str = "europe-west1"
    secret_manager_endpoint: str | None = Field(
        default=None, description="Override of the Secret Manager API host (tests, emulators)."
    )

    database_url: SecretStr | None = None
    cloud_sql_instance: str | None = Field(default=None, pattern=r"^[a-z0-9-:.]+:[a-z0-9-]+:[a-z0-9-]+$")
    cloud_sql_admin_endpoint: str | None = Field(
        default=None, description="Override of the Cloud SQL Admin API base URL (tests, benchmarks)."
    )
    db_user: str | None = None
    db_password: SecretStr | None = None
    db_name: str = "release_manager"
    db_iam_auth: bool = False
    db_private_ip: bool = True
    db_pool_size: int | None = Field(default=None, ge=1, le=50)
    db_max_overflow: int = Field(default=2, ge=0, le=50)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)

    redis_url: SecretStr | None = None
    redis_password: SecretStr | None = None
    redis_ca_cert: str | None = Field(default=None, description="Path to the Memorystore server CA (PEM).")
    redis_timeout_s: float = Field(default=0.5, gt=0)
    redis_retry_after_s: float = Field(default=5.0, ge=0, description="After a Redis error, skip Redis this long.")
    cache_prefix: str = "rm"
    cache_ttl_s: int = Field(default=300, ge=1)
    cache_max_entry_bytes: int = Field(
        default=256 * 1024, ge=1024, description="A value bigger than this is not cached (read from the database)."
    )

    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 key; only the functions that sign or check tokens need it."
    )
    jwt_issuer: str = "release-manager"
    jwt_audience: str = "release-manager-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    registration_open: bool | None = None

    # Attempt limits (docs/security.md, "Security"): counted per fixed window, reserved before any password work.
    login_window_s: int = Field(default=900, ge=1, le=86_400)
    login_limit_account_client: int = Field(default=10, ge=1, description="Failed logins per account from one address.")
    login_limit_client: int = Field(default=50, ge=1, description="Failed logins from one address, any account.")
    login_limit_account: int = Field(default=100, ge=1, description="Failed logins per account, any address.")
    register_window_s: int = Field(default=3600, ge=1, le=86_400)
    register_limit_client: int = Field(default=20, ge=1, description="Registrations from one address.")
    password_change_limit: int = Field(
        default=10, ge=1, description="Password changes per address and per account in a login window."
    )
    exchange_window_s: int = Field(default=60, ge=1, le=86_400)
    exchange_limit_client: int = Field(
        default=60, ge=1, description="Token exchanges (`/auth/exchange`) from one address per exchange window."
    )
    audit_key: SecretStr | None = Field(
        default=None, description="HMAC key of the audit chain; never stored in the database."
    )
    audit_checkpoints: str | None = Field(
        default=None,
        pattern=r"^(file:.+|logging:projects/[^/]+/locations/[^/]+/buckets/[^/]+/views/[^/]+)$",
        description="Where the audit log's head is anchored: `file:PATH` (JSON lines) or `logging:` + a log view.",
    )
    logging_endpoint: str | None = Field(
        default=None, description="Override of the Cloud Logging API host (tests, emulators)."
    )
    audit_checkpoint_interval: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds: at most one audit checkpoint is written per interval (0 = after every commit).",
    )

    # Keyless sign-in of pipelines (OIDC tokens) and of people behind Identity-Aware Proxy: shared/identity.
    oidc_allow_insecure_issuers: bool = Field(
        default=False,
        description="Admit http://127.0.0.1 and http://localhost OIDC issuers and IAP_JWKS_URL "
        "(development and test only).",
    )
    oidc_jwks_refresh_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Least seconds between two fetches of one issuer's keys: an unknown `kid`, "
        "or a retry after a failed fetch, waits this long.",
    )
    iap_audience: str | None = Field(
        default=None,
        min_length=1,
        description="The `aud` of Identity-Aware Proxy assertions (`/projects/NUMBER/global/backendServices/ID`); "
        "unset = IAP sign-in off.",
    )
    iap_jwks_url: str = Field(
        default="https://www.gstatic.com/iap/verify/public_key-jwk",
        description="Where IAP's signing keys (a JWK Set) are served.",
    )
    iap_auto_provision: bool = Field(
        default=False, description="Create an unknown IAP user as `viewer` on first sight."
    )
    events_dispatcher: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The service account (by name) that may dispatch events besides admins: the scheduler's.",
    )
    drift_observer: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The service account (by name) whose OIDC token Pub/Sub pushes drift observations with.",
    )
    drift_locks: bool = Field(
        default=False, description="An image deployed around the gates also locks its environment for its application."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Let webhooks go to private and loopback addresses, over http too (development, test).",
    )
    pubsub_topic: str | None = Field(
        default=None,
        pattern=r"^(projects/[^/\s]+/topics/)?[A-Za-z][A-Za-z0-9._~+%-]{2,254}$",
        description="Every event is also published here: `projects/P/topics/T`, or `T` in GCP_PROJECT_ID.",
    )
    # Binary Authorization: a deployment that may run (queued) gets an attestation of each image.
    attestors: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Environments whose queued deployments attest their images (comma-separated); empty: none.",
    )
    attestation_key_ring: str | None = Field(
        default=None,
        pattern=r"^projects/[^/\s]+/locations/[^/\s]+/keyRings/[^/\s]+$",
        description="The Cloud KMS key ring holding one EC P-256 signing key per attested environment, named after it.",
    )
    kms_endpoint: str | None = Field(default=None, description="Override of the Cloud KMS API host (tests).")
    container_analysis_endpoint: str | None = Field(
        default=None, description="Override of the Container Analysis API host (tests)."
    )

    trust_forwarded_for: bool = Field(
        default=False, description="Behind Google's load balancer: take the client address from X-Forwarded-For."
    )
    cors_origins: Annotated[list[str], NoDecode] = []

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, with `sm://` references resolved before validation (`shared.platform.secrets`)."""
        return (
            SecretManagerReferences(settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings),
        )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("attestors", mode="before")
    @classmethod
    def _split_environments(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("iap_audience", "attestation_key_ring", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """IAP_AUDIENCE="" (Terraform's value with IAP off): IAP sign-in is off; ATTESTATION_KEY_RING="": no ring."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        for name in ("jwt_secret", "audit_key"):
            value: SecretStr | None = getattr(self, name)
            secret = value.get_secret_value() if value is not None else None
            if secret is None:
                continue
            if len(secret.encode()) < 32:
                raise ValueError(f"{name}: must be at least 32 bytes")
            if not self.is_local and secret.lower() in _PLACEHOLDERS:
                raise ValueError(f"{name}: a placeholder value is refused outside development")
        if self.is_local:
            return self
        if self.database_url is None and self.cloud_sql_instance is None:
            raise ValueError("database_url: set it, or CLOUD_SQL_INSTANCE, outside development")
        if self.cloud_sql_instance and not self.db_user:
            raise ValueError("db_user: required with CLOUD_SQL_INSTANCE")
        return self

    @model_validator(mode="after")
    def _keyless_sign_in(self) -> Settings:
        from shared.platform.urls import url_refusal

        if self.oidc_allow_insecure_issuers and not self.is_local:
            raise ValueError("oidc_allow_insecure_issuers: refused outside development and test")
        if self.oidc_jwks_refresh_s < 1 and not self.is_local:
            raise ValueError("oidc_jwks_refresh_s: at least 1 outside development and test (it bounds key fetches)")
        refusal = url_refusal(self.iap_jwks_url, allow_insecure=self.oidc_allow_insecure_issuers)
        if refusal is not None:
            raise ValueError(f"iap_jwks_url: {refusal}")
        if self.iap_audience and self.registration_open:
            raise ValueError("registration_open: self-registration is off behind Identity-Aware Proxy (IAP_AUDIENCE)")
        return self

    @model_validator(mode="after")
    def _events_settings(self) -> Settings:
        if self.webhook_allow_private_targets and not self.is_local:
            raise ValueError("webhook_allow_private_targets: allowed in development and test only")
        if self.pubsub_topic and not self.pubsub_topic.startswith("projects/") and not self.gcp_project_id:
            raise ValueError("pubsub_topic: a short topic name needs GCP_PROJECT_ID (or give projects/P/topics/T)")
        if self.attestors and not (self.attestation_key_ring and self.gcp_project_id):
            raise ValueError("attestors: needs ATTESTATION_KEY_RING and GCP_PROJECT_ID (the notes' project)")
        return self

    @property
    def pubsub_topic_path(self) -> str | None:
        """The full name of the events topic, or None when events are not published."""
        if not self.pubsub_topic or self.pubsub_topic.startswith("projects/"):
            return self.pubsub_topic
        return f"projects/{self.gcp_project_id}/topics/{self.pubsub_topic}"

    def signing_key(self) -> str:
        """The JWT key. Development has a default; elsewhere a function that handles tokens without
        one is misconfigured (the health function never needs one)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.is_local:
            return DEV_JWT_SECRET
        raise ConfigError("invalid setting JWT_SECRET: required by the functions that sign or check tokens")

    def audit_signing_key(self) -> bytes:
        """The audit chain's HMAC key. Development has a default; elsewhere a function that appends
        or verifies audit events without one is misconfigured."""
        if self.audit_key is not None:
            return self.audit_key.get_secret_value().encode()
        if self.is_local:
            return DEV_AUDIT_KEY.encode()
        raise ConfigError("invalid setting AUDIT_KEY: required by the functions that write or verify the audit log")

    def audit_checkpoint_target(self) -> str:
        """Where checkpoints go: AUDIT_CHECKPOINTS, else in development a file beside the embedded
        database; elsewhere required."""
        if self.audit_checkpoints is not None:
            return self.audit_checkpoints
        if self.is_local:
            from shared.local import data_dir

            return f"file:{data_dir() / 'audit-checkpoints.jsonl'}"
        raise ConfigError(
            "invalid setting AUDIT_CHECKPOINTS: required by the functions that write or verify the audit log"
        )

    @property
    def is_local(self) -> bool:
        return self.environment in ("development", "test")

    @property
    def registration_is_open(self) -> bool:
        if self.iap_audience:
            return False  # behind IAP, an account is IAP's or an admin's: nobody claims an email first
        if self.registration_open is None:
            return self.environment != "production"
        return self.registration_open

    @property
    def pool_size(self) -> int:
        """Connections kept per instance: one per request thread unless set."""
        return self.db_pool_size or max(1, int(os.environ.get("THREADS", "4")))


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    name = ".".join(str(p) for p in first["loc"]) or first["msg"].split(":", 1)[0]
    message = first["msg"].removeprefix("Value error, ")
    if ":" in message and not first["loc"]:
        name, message = (part.strip() for part in message.split(":", 1))
    return f"invalid setting {name.upper()}: {message}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and overrides), raising ConfigError on a bad value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_one_line(error)) from None


@functools.cache
def get_settings() -> Settings:
    """The instance's settings, built on first use and reused for every request."""
    return load_settings()
