"""Handoffs keep their wall-clock time across DST; 02:30 on a change day is RFC 5545's."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opsbook.oncall.config import ScheduleConfig
from opsbook.oncall.rotation import Rotation
from opsbook.oncall.shifts import layer_shifts, on_call


def _schedule(start: str, handoff: str, turn: str = "daily") -> ScheduleConfig:
    return ScheduleConfig.model_validate(
        {
            "name": "s",
            "layers": {
                "primary": [
                    {"people": ["ann", "bob"], "start": start, "handoff": handoff, "turn": turn}
                ]
            },
        }
    )


def _handoffs(schedule: ScheduleConfig, zone: str, day: datetime) -> list[datetime]:
    shifts = layer_shifts(
        schedule,
        "primary",
        zone=ZoneInfo(zone),
        start=day - timedelta(days=1),
        end=day + timedelta(days=2),
    )
    return [shift.start.astimezone(ZoneInfo(zone)) for shift in shifts[1:]]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_a_0230_handoff_moves_past_the_spring_gap_and_takes_the_first_autumn_0230(
    zone: str, spring: datetime, autumn: datetime
) -> None:
    tz = ZoneInfo(zone)
    schedule = _schedule("2026-01-01", "02:30")
    spring_day = [h for h in _handoffs(schedule, zone, spring) if h.date() == spring.date()]
    # 02:30 does not exist that day: it is read with the offset from before the gap,
    # which is 03:30 in the new offset (one hour after 01:30, as 02:30 would have been).
    assert [h.strftime("%H:%M %Z") for h in spring_day] == [
        "03:30 CEST" if zone == "Europe/Berlin" else "03:30 EDT"
    ]
    before = datetime.combine(spring.date() - timedelta(days=1), time(2, 30), tzinfo=tz)
    after = datetime.combine(spring.date() + timedelta(days=1), time(2, 30), tzinfo=tz)
    # Elapsed time (in UTC): the turn into the gap lasts 24h, the one after it 23h.
    assert spring_day[0].astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=24)
    assert after.astimezone(UTC) - spring_day[0].astimezone(UTC) == timedelta(hours=23)

    autumn_day = [h for h in _handoffs(schedule, zone, autumn) if h.date() == autumn.date()]
    # Berlin repeats 02:00-03:00, so 02:30 happens twice and the first one is the handoff;
    # New York repeats 01:00-02:00, so its 02:30 happens once, in the new offset.
    assert len(autumn_day) == 1
    assert autumn_day[0].strftime("%H:%M %Z") == (
        "02:30 CEST" if zone == "Europe/Berlin" else "02:30 EST"
    )
    prev = datetime.combine(autumn.date() - timedelta(days=1), time(2, 30), tzinfo=tz)
    nxt = datetime.combine(autumn.date() + timedelta(days=1), time(2, 30), tzinfo=tz)
    into = autumn_day[0].astimezone(UTC) - prev.astimezone(UTC)
    out = nxt.astimezone(UTC) - autumn_day[0].astimezone(UTC)
    # The long day's extra hour goes to whoever holds the turn that spans the change.
    expected = (24, 25) if zone == "Europe/Berlin" else (25, 24)
    assert (into, out) == tuple(timedelta(hours=h) for h in expected)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_the_seeds_weekly_monday_0900_handoff_stays_at_0900_all_year(zone: str) -> None:
    tz = ZoneInfo(zone)
    schedule = _schedule("2026-01-05", "09:00", turn="weekly")
    shifts = layer_shifts(
        schedule,
        "primary",
        zone=tz,
        start=datetime(2026, 1, 6, tzinfo=UTC),
        end=datetime(2027, 1, 5, tzinfo=UTC),
    )
    starts = [s.start.astimezone(tz) for s in shifts[1:]]
    assert len(starts) == 52
    assert {(s.weekday(), s.hour, s.minute) for s in starts} == {(0, 9, 0)}
    lengths = {s.end - s.start for s in shifts[1:-1]}
    assert lengths == {timedelta(hours=167), timedelta(hours=168), timedelta(hours=169)}
    assert [s.person for s in shifts[:4]] == ["ann", "bob", "ann", "bob"]


def test_a_handoff_in_the_ambiguous_hour_gives_the_repeated_hour_to_the_outgoing_person() -> None:
    tz = ZoneInfo("Europe/Berlin")
    rotation = Rotation(_schedule("2026-10-24", "02:30").layers.primary[0], tz)
    first_0245 = datetime(2026, 10, 25, 2, 45, fold=0, tzinfo=tz)
    second_0245 = datetime(2026, 10, 25, 2, 45, fold=1, tzinfo=tz)
    assert rotation.person(rotation.index_at(first_0245)) == "bob"  # type: ignore[arg-type]
    assert rotation.person(rotation.index_at(second_0245)) == "bob"  # type: ignore[arg-type]
    at_0215_second = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=tz)
    # The second 02:15 comes after the (first) 02:30 handoff: it is bob's too.
    assert rotation.person(rotation.index_at(at_0215_second)) == "bob"  # type: ignore[arg-type]


def test_on_call_reports_the_whole_shift_around_an_instant() -> None:
    tz = ZoneInfo("Europe/Berlin")
    schedule = _schedule("2026-03-23", "09:00", turn="weekly")
    shift = on_call(schedule, "primary", zone=tz, at=datetime(2026, 4, 1, tzinfo=UTC))
    assert shift.person == "bob"
    assert shift.start.astimezone(tz) == datetime(2026, 3, 30, 9, tzinfo=tz)
    assert shift.end.astimezone(tz) == datetime(2026, 4, 6, 9, tzinfo=tz)
