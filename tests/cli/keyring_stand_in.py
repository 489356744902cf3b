"""A stand-in for the OS keyring (macOS Keychain, the Secret Service), which a test machine lacks:
a backend of keyring's own API, so relman's keyring path runs as it would against the real one,
keeping its entries in the JSON file RELMAN_TEST_KEYRING names. relman loads it by
PYTHON_KEYRING_BACKEND=tests.cli.keyring_stand_in.FileKeyring, keyring's own way to choose one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]  # keyring declares it as a class property

    @property
    def _path(self) -> Path:
        return Path(os.environ["RELMAN_TEST_KEYRING"])

    def _entries(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._path.read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries() | {f"{service}/{username}": password}
        self._path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path.write_text(json.dumps(entries))
