"""Secret Manager references in settings: `sm://projects/P/secrets/S/versions/V`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from shared.settings import Settings

SCHEME = "sm://"


def _client(endpoint: str | None) -> Any:
    # Imported here: the client and its gRPC stack are heavy and only needed in Cloud.
    from google.cloud import secretmanager

    if endpoint is None:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": endpoint},
    )


def access_secret(name: str, *, endpoint: str | None = None, client: Any = None) -> str:
    """Read one secret version (`projects/P/secrets/S/versions/V`) as text."""
    client = client or _client(endpoint)
    response = client.access_secret_version(request={"name": name})
    return str(response.payload.data.decode("utf-8"))


def resolve_secret_references(settings: Settings) -> Settings:
    """Replace every `sm://` value with the secret it names; one client, once per instance."""
    updates: dict[str, object] = {}
    client = None
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and raw.startswith(SCHEME):
            client = client or _client(settings.secret_manager_endpoint)
            secret = access_secret(raw.removeprefix(SCHEME), client=client)
            updates[field] = SecretStr(secret) if isinstance(value, SecretStr) else secret
    if not updates:
        return settings
    # Validate again: a resolved secret must pass the same checks as a literal one.
    merged = settings.model_dump() | updates
    return type(settings).model_validate(
        {k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in merged.items()}
    )
