"""The one pattern for names in URLs and records: applications and environments are lowercase slugs;
and the one check of a time zone's name."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A lowercase name such as `checkout` or `eu-production`: at most 63 characters, a letter or digit first.
SLUG = r"[a-z0-9][a-z0-9-]{0,62}"
SLUG_PATTERN = rf"^{SLUG}$"


def known_zone(value: str | None) -> str | None:
    """An IANA time zone's name as given, or ValueError naming it."""
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
    return value
