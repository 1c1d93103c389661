"""PagerDuty's interruption buckets, in the paged person's own time zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from opsbook.incidents.reports.hours import bucket_of

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-03-02 07:59", "sleep_hours"),  # Monday, before 08:00
        ("2026-03-02 08:00", "business_hours"),
        ("2026-03-02 17:59", "business_hours"),
        ("2026-03-02 18:00", "off_hours"),  # a weekday evening
        ("2026-03-02 21:59", "off_hours"),
        ("2026-03-02 22:00", "sleep_hours"),
        ("2026-03-06 17:30", "business_hours"),  # Friday afternoon
        ("2026-03-06 19:00", "off_hours"),  # Friday evening
        ("2026-03-07 10:00", "off_hours"),  # Saturday daytime
        ("2026-03-08 21:59", "off_hours"),  # Sunday evening
        ("2026-03-07 23:30", "sleep_hours"),  # Saturday night: sleep wins over the weekend
        ("2026-03-09 03:00", "sleep_hours"),  # Monday small hours
    ],
)
def test_buckets_follow_pagerdutys_hours(local: str, expected: str) -> None:
    at = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
    assert bucket_of(at.astimezone(UTC), LONDON) == expected


def test_the_same_instant_is_business_hours_in_london_and_sleep_in_new_york() -> None:
    at = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)  # Tuesday
    assert bucket_of(at, LONDON) == "business_hours"
    assert bucket_of(at, NEW_YORK) == "sleep_hours"  # 04:30 EST


def test_daylight_saving_moves_the_boundary_in_utc() -> None:
    # 07:30 UTC is 07:30 in London in winter (sleep) and 08:30 in summer (business).
    assert bucket_of(datetime(2026, 3, 27, 7, 30, tzinfo=UTC), LONDON) == "sleep_hours"
    assert bucket_of(datetime(2026, 3, 30, 7, 30, tzinfo=UTC), LONDON) == "business_hours"
    # New York changed on 8 March: 12:30 UTC is 07:30 EST before, 08:30 EDT after.
    assert bucket_of(datetime(2026, 3, 6, 12, 30, tzinfo=UTC), NEW_YORK) == "sleep_hours"
    assert bucket_of(datetime(2026, 3, 9, 12, 30, tzinfo=UTC), NEW_YORK) == "business_hours"
