"""A person's sign-in, kept between runs: `relman login` stores the session's refresh token (and the
access token it holds now) for the profile and the service's URL; every command then renews the
access token when it is spent, silently, and keeps the refresh token the renewal hands back.

Where: the OS keyring (macOS Keychain, Windows Credential Locker, the Secret Service on Linux)
where one is usable, else `credentials.json` beside config.toml, readable by its owner only (0600).
A renewal holds a lock file, so two relman runs at once do not both spend the same refresh token
(the service would take that for a stolen token and end the session)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from relman import config

SERVICE = "relman"
RENEW_BEFORE = 60.0  # seconds of an access token's life left when it is renewed


def key(profile: str, url: str) -> str:
    """One sign-in per profile and service."""
    return f"{profile}|{url.rstrip('/')}"


class FileStore:
    """`credentials.json` (0600) under relman's config folder."""

    def __init__(self) -> None:
        self.path = config.folder() / "credentials.json"

    @property
    def where(self) -> str:
        return str(self.path)

    def _all(self) -> dict[str, Any]:
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def load(self, name: str) -> dict[str, Any] | None:
        found = self._all().get(name)
        return found if isinstance(found, dict) else None

    def save(self, name: str, login: dict[str, Any] | None) -> None:
        every = self._all()
        if login is None:
            every.pop(name, None)
        else:
            every[name] = login
        config.private_folder()
        scratch = self.path.with_suffix(".tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(every, out)
        scratch.replace(self.path)


class KeyringStore:
    """One keyring entry per sign-in, holding it as JSON."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    @property
    def where(self) -> str:
        return f"the OS keyring ({type(self.backend).__name__})"

    def load(self, name: str) -> dict[str, Any] | None:
        text = self.backend.get_password(SERVICE, name)
        try:
            found = json.loads(text) if text else None
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def save(self, name: str, login: dict[str, Any] | None) -> None:
        if login is not None:
            self.backend.set_password(SERVICE, name, json.dumps(login))
            return
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self.backend.delete_password(SERVICE, name)


def store() -> FileStore | KeyringStore:
    """The OS keyring when one is usable here, else the private file."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency; a trimmed install still works
        return FileStore()
    backend = keyring.get_keyring()
    usable = not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0
    if type(backend).__name__ == "ChainerBackend":
        usable = bool(getattr(backend, "backends", ()))
    return KeyringStore(backend) if usable else FileStore()


@contextlib.contextmanager
def renewing() -> Iterator[None]:
    """Held while a refresh token is spent, across relman processes (flock; on Windows, msvcrt's
    lock of the file's first byte)."""
    lock = config.private_folder() / "credentials.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock(fd, hold=True)
        yield
    finally:
        _lock(fd, hold=False)
        os.close(fd)


def _lock(fd: int, *, hold: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK if hold else msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_EX if hold else fcntl.LOCK_UN)


def from_answer(answer: dict[str, Any], email: str | None) -> dict[str, Any]:
    """What is kept of /auth/login's or /auth/refresh's answer."""
    lifetime = float(answer.get("expires_in") or 0)
    return {
        "email": email,
        "access_token": answer["access_token"],
        "refresh_token": answer["refresh_token"],
        "access_expires_at": time.time() + lifetime,
    }


def fresh(login: dict[str, Any]) -> bool:
    """Its access token still has more than RENEW_BEFORE seconds to live."""
    return float(login.get("access_expires_at") or 0) - RENEW_BEFORE > time.time()
