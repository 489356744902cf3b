"""The root command's settings, each from a flag, else the environment, else the profile (relman.config),
else the default; and where each came from, for `relman config`."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from relman import config, output


def resolve(ctx: click.Context, given: dict[str, Any]) -> dict[str, Any]:
    """What the commands run with: `url`, `token`, `service_account`, `audience`, `retry_seconds`,
    `profile`, and `sources` (each setting's origin, in words)."""
    profile, profile_source = config.chosen(given.get("profile"))
    stored: dict[str, Any] | None = None
    found: dict[str, Any] = {"profile": profile, "sources": {"profile": profile_source}}
    for name in ("url", "token", "service_account", "audience", "retry_seconds", "iap", "output"):
        source = ctx.get_parameter_source(name)
        value: Any = given.get(name) if name != "output" else None
        if source == ParameterSource.COMMANDLINE:
            found["sources"][name] = "flag"
        elif source == ParameterSource.ENVIRONMENT:
            found["sources"][name] = f"env {config.KEYS.get(name, 'RELMAN_TOKEN')}"
        elif name in config.KEYS:
            stored = config.values(profile) if stored is None else stored
            if name in stored:
                value = _typed(name, stored[name], profile)
                found["sources"][name] = f"profile {profile} ({config.path()})"
            else:
                found["sources"][name] = "default" if value is not None or name == "output" else "unset"
        else:
            found["sources"][name] = "unset"
        if name == "output":
            if found["sources"][name].startswith("profile"):
                output.MODE["output"] = value
            continue
        found[name] = value
    return found


def _typed(name: str, value: Any, profile: str) -> Any:
    """A profile's value, checked as its option would check it."""
    where = f"{name} in [profiles.{profile}] of {config.path()}"
    if name == "iap":
        if not isinstance(value, bool):
            raise click.BadParameter(f"{where} must be true or false")
        return value
    if name == "retry_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise click.BadParameter(f"{where} must be a number of seconds, 0 or more")
        return float(value)
    if name == "output" and value not in output.FORMATS:
        raise click.BadParameter(f"{where} must be one of {', '.join(output.FORMATS)}")
    if not isinstance(value, str) or not value:
        raise click.BadParameter(f"{where} must be a non-empty string")
    return value
