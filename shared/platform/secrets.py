"""Secret Manager references in settings: `sm://projects/P/secrets/S/versions/V`.

`SecretManagerReferences` is a pydantic-settings source: it merges the sources it wraps (the
constructor's arguments, the environment, ...) and replaces each `sm://` value with the secret it
names before the settings are validated, so a resolved secret passes the same checks as a literal.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

SCHEME = "sm://"
ENDPOINT_SETTING = "secret_manager_endpoint"


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


class SecretManagerReferences(PydanticBaseSettingsSource):
    """The wrapped sources' values (the first source wins), each `sm://` reference replaced by its
    secret: one client, created only when a reference is found, once per instance."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the wrapped sources as a whole

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for source in reversed(self._sources):
            values.update(source())
        client = None
        for name, value in values.items():
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(raw, str) and raw.startswith(SCHEME):
                client = client or _client(_endpoint(values.get(ENDPOINT_SETTING)))
                values[name] = access_secret(raw.removeprefix(SCHEME), client=client)
        return values


def _endpoint(value: Any) -> str | None:
    return str(value) if value else None
