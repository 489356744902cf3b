"""Request field types shared by every concept."""

from datetime import UTC, datetime

import pydantic
import pytest

from shared.deployments.hold_schemas import FreezeIn
from shared.releases.schemas import ReleaseIn


def test_an_offset_postgresql_cannot_store_is_kept_as_the_same_instant_in_utc():
    # RFC 3339 allows +17:26; PostgreSQL refuses offsets past ±15:59 (this was a 500).
    freeze = FreezeIn.model_validate(
        {"starts_at": "2026-01-21T04:35:16+17:26", "ends_at": "2026-01-22T00:00:00Z", "reason": "Holidays"}
    )
    assert freeze.starts_at == datetime(2026, 1, 20, 11, 9, 16, tzinfo=UTC)
    assert freeze.starts_at.utcoffset().total_seconds() == 0


def test_a_commit_time_is_kept_in_utc():
    release = ReleaseIn.model_validate(
        {
            "application": "shop",
            "version": "1.0.0",
            "title": "t",
            "source": {"repository": "r", "commit_sha": "a" * 40, "committed_at": "2026-03-01T00:00:00-12:30"},
        }
    )
    assert release.source is not None
    assert release.source.committed_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_an_instant_before_the_first_year_in_utc_is_invalid_not_an_error():
    with pytest.raises(pydantic.ValidationError, match="out of the range"):
        FreezeIn.model_validate(
            {"starts_at": "0001-01-01T00:00:00+01:00", "ends_at": "2026-01-22T00:00:00Z", "reason": "x"}
        )


@pytest.mark.parametrize("link", ["http://[", "https://", "http://exa mple.com/x", "https://example.com:port/"])
def test_a_link_that_does_not_parse_or_has_no_host_is_refused(link):
    # Fuzzing found `http://[` stored as an incident link: no browser (nor URL parser) opens it.
    with pytest.raises(pydantic.ValidationError, match="not a URL"):
        ReleaseIn.model_validate({"application": "shop", "version": "1.0.0", "title": "t", "kind": "fix",
                                  "incident_url": link})  # fmt: skip


def test_a_link_is_kept_as_given():
    link = "https://status.example.com/incidents/4411?tab=timeline#now"
    made = ReleaseIn.model_validate(
        {"application": "shop", "version": "1.0.0", "title": "t", "kind": "fix", "incident_url": link}
    )
    assert made.incident_url == link
