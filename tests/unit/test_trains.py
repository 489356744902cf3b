"""Release trains as plain functions (shared/applications/trains.py): a cron timetable read in an
IANA zone, across the nights its clocks change, and who boards."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.applications import trains

BERLIN = "Europe/Berlin"


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def test_ten_on_weekdays_is_nine_utc_in_winter_and_eight_in_summer():
    assert trains.next_departure("0 10 * * 1-5", BERLIN, utc(2027, 3, 26, 8, 0)) == utc(2027, 3, 26, 9, 0)
    assert trains.next_departure("0 10 * * 1-5", BERLIN, utc(2027, 3, 26, 9, 0)) == utc(2027, 3, 29, 8, 0)


def test_a_time_the_spring_night_skips_departs_when_the_clock_jumps():
    # 02:30 does not exist in Berlin on 28 March 2027 (02:00 CET becomes 03:00 CEST, 01:00 UTC).
    assert trains.next_departure("30 2 * * *", BERLIN, utc(2027, 3, 27, 12, 0)) == utc(2027, 3, 28, 1, 0)
    assert trains.departure("30 2 * * *", BERLIN, utc(2027, 3, 28, 1, 5)) == utc(2027, 3, 28, 1, 0)


def test_a_time_the_autumn_night_repeats_departs_once():
    # 02:30 happens twice in Berlin on 31 October 2027 (00:30 and 01:30 UTC).
    first = trains.next_departure("30 2 * * *", BERLIN, utc(2027, 10, 30, 12, 0))
    after = trains.next_departure("30 2 * * *", BERLIN, first)

    assert first == utc(2027, 10, 31, 0, 30)
    assert after == utc(2027, 11, 1, 1, 30)


def test_a_train_boards_for_fifteen_minutes_from_its_minute():
    schedule = "0 10 * * *"

    assert trains.departure(schedule, "UTC", utc(2027, 1, 4, 9, 59, 59)) is None
    assert trains.departure(schedule, "UTC", utc(2027, 1, 4, 10, 0)) == utc(2027, 1, 4, 10, 0)
    assert trains.departure(schedule, "UTC", utc(2027, 1, 4, 10, 14, 59)) == utc(2027, 1, 4, 10, 0)
    assert trains.departure(schedule, "UTC", utc(2027, 1, 4, 10, 15)) is None


def test_what_soaked_by_the_departure_boards_and_what_soaked_after_waits():
    at = utc(2027, 1, 4, 10, 5)
    board = dict(soak_minutes=30, schedule="0 10 * * *", timezone="UTC", now=at)

    assert trains.promotion_time(live_since=utc(2027, 1, 4, 9, 30), **board) == utc(2027, 1, 4, 10, 0)
    assert trains.promotion_time(live_since=utc(2027, 1, 4, 9, 31), **board) is None


def test_without_a_train_it_goes_once_soaked():
    now = utc(2027, 1, 4, 10, 5)
    since = now - timedelta(minutes=30)

    assert trains.promotion_time(live_since=since, soak_minutes=30, schedule=None, timezone=None, now=now) == now
    assert trains.promotion_time(live_since=since, soak_minutes=31, schedule=None, timezone=None, now=now) is None


@pytest.mark.parametrize(
    ("schedule", "says"),
    [("0 10 * *", "five fields"), ("0 24 * * *", "Bad hour"), ("0 10 * * MON-XYZ", "day-of-week"), ("@daily", "five")],
)
def test_a_schedule_that_is_not_cron_says_why(schedule, says):
    with pytest.raises(ValueError, match=says):
        trains.check_schedule(schedule)
