"""Release rules as plain functions: SemVer ordering and the status lifecycle."""

from __future__ import annotations

import re
from typing import Literal, get_args

import semver

from shared.errors import Conflict

MAX_NUMBER_DIGITS = 20
# semver.org's pattern, with numbers capped at MAX_NUMBER_DIGITS digits; published in the OpenAPI document.
_NUMBER = r"(?:0|[1-9][0-9]{0,19})"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER_PATTERN = (
    rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)
_DIGITS = re.compile(r"^[0-9]+$")

# Byte-ordered markers (COLLATE "C"): a pre-release sorts below its release; identifiers are
# separated by a byte below every identifier character, so a shorter identifier list sorts first.
_PRERELEASE, _RELEASE, _SEPARATOR = "-", "~", "!"
_NUMERIC, _ALPHANUMERIC = "0", "1"
# Every character a sort key can hold (digits, dots, the markers and pre-release identifiers).
VERSION_KEY_PATTERN = r"^[0-9A-Za-z.~!-]+$"


def parse_version(text: str) -> semver.Version:
    """A SemVer 2.0.0 version, or ValueError saying why not."""
    version = semver.Version.parse(text)
    if max(len(str(version.major)), len(str(version.minor)), len(str(version.patch))) > MAX_NUMBER_DIGITS:
        raise ValueError(f"version numbers are limited to {MAX_NUMBER_DIGITS} digits")
    return version


def version_sort_key(text: str) -> str:
    """A string whose byte order is SemVer precedence, so the database can sort and index it.

    `1.9.0` < `1.10.0-alpha` < `1.10.0-rc.1` < `1.10.0`, and `2.0.0-beta.2` < `2.0.0-beta.11`.
    Build metadata does not take part in precedence.
    """
    version = parse_version(text)
    key = ".".join(f"{part:0{MAX_NUMBER_DIGITS}d}" for part in (version.major, version.minor, version.patch))
    if version.prerelease is None:
        return key + _RELEASE
    identifiers = []
    for identifier in version.prerelease.split("."):
        if _DIGITS.match(identifier):
            identifiers.append(f"{_NUMERIC}{len(identifier):04d}{identifier}")
        else:
            identifiers.append(_ALPHANUMERIC + identifier)
    return key + _PRERELEASE + _SEPARATOR.join(identifiers)


# -- lifecycle ------------------------------------------------------------------------------------

Status = Literal["draft", "ready", "cancelled"]
STATUSES: tuple[Status, ...] = get_args(Status)
DRAFT: Status = "draft"
READY: Status = "ready"
CANCELLED: Status = "cancelled"
# How a release may start: as a draft, or ready at once.
Initial = Literal["draft", "ready"]
# What a release is: a change, or a fix for an incident (which a freeze may let through).
Kind = Literal["change", "fix"]
KINDS: tuple[Kind, ...] = get_args(Kind)
_TRANSITIONS: dict[tuple[str, str], Status] = {
    ("finalize", DRAFT): READY,
    ("cancel", DRAFT): CANCELLED,
    ("cancel", READY): CANCELLED,
}


# What a developer may do to a release's status: finalize (draft → ready) or cancel.
StatusAction = Literal["finalize", "cancel"]


def transition(status: str, action: StatusAction) -> str:
    """The status after `action`, or 409 `invalid_transition`."""
    try:
        return _TRANSITIONS[(action, status)]
    except KeyError:
        raise Conflict(f"A {status} release cannot be {action}d.", code="invalid_transition") from None


def require_draft(status: str, doing: str) -> None:
    """Content can change, and a release can be deleted, only while it is a draft."""
    if status != DRAFT:
        raise Conflict(f"Only drafts can be {doing}; this release is {status}.", code="release_not_editable")
