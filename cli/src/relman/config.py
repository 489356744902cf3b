"""Where each of relman's settings comes from: a flag, else the environment, else the profile in
`config.toml`, else the default (the precedence gh and gcloud use).

The file is `$XDG_CONFIG_HOME/relman/config.toml` (`~/.config/relman/config.toml`):

    default_profile = "work"              # optional: RELMAN_PROFILE or --profile choose another
    [profiles.work]
    url = "https://releases.example.com"
    output = "text"

A profile is chosen by `--profile`, else RELMAN_PROFILE, else `default_profile`, else `default`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from relman.errors import RelmanError

# The settings a profile may hold, each with the root option (and environment variable) it backs.
KEYS = {
    "url": "RELMAN_URL",
    "output": "RELMAN_OUTPUT",
    "service_account": "RELMAN_SERVICE_ACCOUNT",
    "audience": "RELMAN_AUDIENCE",
    "retry_seconds": "RELMAN_RETRY_SECONDS",
    "iap": "RELMAN_IAP",
}
DEFAULT_PROFILE = "default"


def folder() -> Path:
    """relman's own folder under the XDG config home (made private when relman writes to it)."""
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / "relman"


def path() -> Path:
    return folder() / "config.toml"


def load() -> dict[str, Any]:
    """The file's contents ({} when there is none); a file that is not TOML is a one-line error."""
    try:
        text = path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise RelmanError(f"cannot read {path()}: {error.strerror}") from None
    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RelmanError(f"{path()} is not valid TOML: {error}; fix or remove it") from None
    return found


def chosen(flag: str | None) -> tuple[str, str]:
    """The profile in use and what chose it."""
    if flag:
        return flag, "--profile"
    if os.environ.get("RELMAN_PROFILE"):
        return os.environ["RELMAN_PROFILE"], "env RELMAN_PROFILE"
    named = load().get("default_profile")
    if isinstance(named, str) and named:
        return named, f"default_profile in {path()}"
    return DEFAULT_PROFILE, "default"


def values(profile: str) -> dict[str, Any]:
    """The settings the profile holds (unknown keys are refused, so a typo does not pass silently)."""
    profiles = load().get("profiles") or {}
    found = profiles.get(profile) or {}
    if not isinstance(found, dict):
        raise RelmanError(f"[profiles.{profile}] in {path()} must be a table")
    unknown = sorted(set(found) - set(KEYS))
    if unknown:
        raise RelmanError(f"[profiles.{profile}] in {path()} has unknown keys {unknown}; known: {sorted(KEYS)}")
    return dict(found)


def save(profile: str, key: str, value: Any | None) -> None:
    """Set (or with None, remove) one setting of a profile, keeping the rest of the file."""
    import tomli_w

    if key not in KEYS:
        raise RelmanError(f"{key!r} is not a setting; known: {', '.join(sorted(KEYS))}")
    document = load()
    profiles = document.setdefault("profiles", {})
    table = profiles.setdefault(profile, {})
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
    private_folder()
    target = path()
    scratch = target.with_suffix(".toml.tmp")
    scratch.write_text(tomli_w.dumps(document), encoding="utf-8")
    scratch.replace(target)


def private_folder() -> Path:
    """The config folder, made if missing, readable by its owner only."""
    made = folder()
    made.mkdir(parents=True, exist_ok=True)
    made.chmod(0o700)
    return made
