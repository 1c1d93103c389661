"""A report's time range from what people type: dates, or date-times with an offset."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

DEFAULT_SPAN: Final = timedelta(days=30)


def _instant(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        # A day means the whole day, in the service's time zone: --to is inclusive.
        midnight = datetime.combine(day + timedelta(days=1) if end else day, time(0))
        return midnight.replace(tzinfo=zone).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2026-03-01) nor a date-time (2026-03-01T09:00+01:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_period(
    start: str | None, end: str | None, *, now: datetime, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC; by default the 30 days up to ``now``.

    >>> parse_period("2026-03-01", "2026-03-31", now=now, zone=ZoneInfo("UTC"))
    (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    """
    until = _instant(end, zone, end=True) if end else now
    since = _instant(start, zone, end=False) if start else until - DEFAULT_SPAN
    if until <= since:
        raise ValueError("the report's end must be after its start")
    return since, until
