"""Property tests: random rotations, zones and DST changes resolve to exactly the right person.

The oracle below is written from the definition, independently of the engine: turn *k*
starts at the wall time ``start + handoff + k * turn`` read as RFC 5545 reads local time
(POSIX timestamps of fold=0 datetimes), and the person at instant *t* is the holder of the
latest turn started by *t*, if a restriction window (checked on the local calendar) is
open, unless an override (the latest one) covers *t*.  The iCalendar export, read back
with the ``icalendar`` parser, must list exactly the non-gap shifts.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.oncall.config import WEEKDAYS, ScheduleConfig
from opsbook.oncall.ical import calendar
from opsbook.oncall.shifts import OverrideSpan, Shift, layer_shifts

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Auckland",
    "America/Santiago",
    "Asia/Kolkata",  # no DST at all
    "UTC",
]
PEOPLE = ["ann", "bob", "cem", "dee"]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[ScheduleConfig, ZoneInfo]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True))
    turn = draw(st.sampled_from(["daily", "weekly", "1h", "90m", "8h", "12h", "36h", "3d", "10d"]))
    minute = draw(st.sampled_from([0, 30, 59, 60, 90, 120, 150, 165, 180, 540, 1410]))
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 6, 1)))
    rotation: dict[str, object] = {
        "people": people,
        "turn": turn,
        "start": start.isoformat(),
        "handoff": f"{minute // 60:02d}:{minute % 60:02d}",
    }
    if draw(st.booleans()):
        opens = draw(st.sampled_from([0, 120, 150, 540, 1080]))
        length = draw(st.sampled_from([60, 150, 540, 900]))
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        rotation["restrictions"] = [
            {
                "days": days,
                "from": f"{opens // 60:02d}:{opens % 60:02d}",
                "to": f"{(opens + length) % 1440 // 60:02d}:{(opens + length) % 60:02d}",
            }
        ]
    layers = {"primary": [rotation]}
    if draw(st.booleans()):  # a second, later rotation that wins where it covers
        layers["primary"].append(
            {
                "people": [draw(st.sampled_from(PEOPLE))],
                "start": start.isoformat(),
                "turn": "weekly",
                "restrictions": [{"days": ["sat"], "from": "02:00", "to": "04:00"}],
            }
        )
    schedule = ScheduleConfig.model_validate({"name": "s", "layers": layers})
    return schedule, zone


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(wall.replace(tzinfo=zone, fold=0).timestamp(), UTC)


def _rotation_person(rotation: object, zone: ZoneInfo, at: datetime) -> str | None:
    config = rotation  # a RotationConfig
    first = datetime.combine(config.start, time()) + timedelta(minutes=config.handoff)  # type: ignore[attr-defined]
    if at < _instant(first, zone) and all(
        _instant(first + k * config.turn, zone) > at
        for k in range(1, 40)  # type: ignore[attr-defined]
    ):
        return None
    # Scan every turn near `at` (by wall time) and take the latest one that has started.
    local = at.astimezone(zone).replace(tzinfo=None)
    guess = max(0, (local - first) // config.turn)  # type: ignore[attr-defined]
    lo = max(0, guess - 30)
    started = [k for k in range(lo, guess + 30) if _instant(first + k * config.turn, zone) <= at]  # type: ignore[attr-defined]
    if not started:
        return None
    people = config.people  # type: ignore[attr-defined]
    return str(people[max(started) % len(people)])


def _window_open(rotation: object, zone: ZoneInfo, at: datetime) -> bool:
    restrictions = rotation.restrictions  # type: ignore[attr-defined]
    if not restrictions:
        return True
    today = at.astimezone(zone).date()
    for restriction in restrictions:
        length = (restriction.to - restriction.from_) % 1440 or 1440
        for day in (today - timedelta(days=1), today):
            if WEEKDAYS[day.weekday()] not in restriction.days:
                continue
            opens = datetime.combine(day, time()) + timedelta(minutes=restriction.from_)
            if _instant(opens, zone) <= at < _instant(opens + timedelta(minutes=length), zone):
                return True
    return False


def oracle(
    schedule: ScheduleConfig, zone: ZoneInfo, at: datetime, overrides: list[OverrideSpan]
) -> str | None:
    covering = [o for o in overrides if o.start <= at < o.end]
    if covering:
        return max(covering, key=lambda o: o.id).person
    for rotation in reversed(schedule.layers.primary):
        if _window_open(rotation, zone, at):
            person = _rotation_person(rotation, zone, at)
            if person is not None:
                return person
    return None


windows = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2027, 12, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# Calendars count in whole seconds, and feeds start at a whole minute.
minutes = windows.map(lambda value: value.replace(second=0, microsecond=0))


@st.composite
def overrides(draw: st.DrawFn, start: datetime) -> list[OverrideSpan]:
    found = []
    for number in range(draw(st.integers(0, 3))):
        begin = start + timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 5 * 24 * 60)))
        found.append(
            OverrideSpan(
                number + 1, "primary", draw(st.sampled_from(PEOPLE)), begin, begin + length
            )
        )
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), case=schedules(), start=windows)
def test_at_every_instant_exactly_the_right_person_is_on_call(
    data: st.DataObject, case: tuple[ScheduleConfig, ZoneInfo], start: datetime
) -> None:
    schedule, zone = case
    end = start + timedelta(days=data.draw(st.integers(1, 21)))
    spans = data.draw(overrides(start))
    shifts = layer_shifts(schedule, "primary", zone=zone, start=start, end=end, overrides=spans)
    # The shifts tile the window: contiguous, non-empty, merged where nothing changes.
    assert shifts[0].start == start
    assert shifts[-1].end == end
    for left, right in itertools.pairwise(shifts):
        assert left.end == right.start
        assert (left.person, left.source) != (right.person, right.source)
    assert all(s.start < s.end for s in shifts)
    # Probe random instants, every shift's first and last microsecond, and each handoff.
    probes = [start + (end - start) * data.draw(st.floats(0, 0.999999)) for _ in range(20)]
    probes += [s.start for s in shifts] + [s.end - timedelta(microseconds=1) for s in shifts]
    for at in probes:
        shift = next(s for s in shifts if s.start <= at < s.end)
        assert shift.person == oracle(schedule, zone, at, spans), (at, shift)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedules(), start=windows)
def test_every_handoff_is_at_the_handoff_wall_time_or_just_past_a_gap(
    case: tuple[ScheduleConfig, ZoneInfo], start: datetime
) -> None:
    schedule, zone = case
    rotation = schedule.layers.primary[0]
    if rotation.restrictions or len(schedule.layers.primary) > 1:
        return
    shifts = layer_shifts(
        schedule, "primary", zone=zone, start=start, end=start + timedelta(days=30)
    )
    handoff = timedelta(minutes=rotation.handoff)
    for shift in shifts[1:]:
        if shift.source == "gap":
            continue
        local = shift.start.astimezone(zone)
        wall = local.replace(tzinfo=None)
        expected = datetime.combine(rotation.start, time()) + handoff
        offset_in_turn = (wall - expected) % rotation.turn
        if offset_in_turn:
            # Only a handoff that fell into a spring-forward gap moves: by the gap's size.
            before = (shift.start - timedelta(hours=3)).astimezone(zone).utcoffset()
            after = local.utcoffset()
            assert before is not None
            assert after is not None
            assert offset_in_turn == after - before


def _parsed(text: str) -> list[tuple[datetime, datetime, str]]:
    cal = icalendar.Calendar.from_ical(text)
    events = []
    for event in cal.walk("VEVENT"):
        assert event.get("UID")
        assert event.get("DTSTAMP")
        events.append((event.decoded("DTSTART"), event.decoded("DTEND"), str(event["SUMMARY"])))
    return events


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedules(), start=minutes, data=st.data())
def test_the_ical_export_agrees_with_oncall_show(
    case: tuple[ScheduleConfig, ZoneInfo], start: datetime, data: st.DataObject
) -> None:
    schedule, zone = case
    end = start + timedelta(days=data.draw(st.integers(1, 30)))
    shifts: list[Shift] = layer_shifts(schedule, "primary", zone=zone, start=start, end=end)
    names = {p: f"{p.title()}, the “{p}”; on call\\" for p in PEOPLE}  # escaping and UTF-8
    text = calendar(shifts, name="s", now=start, people=names)
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    expected = [
        (s.start, s.end, f"On call: {names[s.person]} (s, primary)")
        for s in shifts
        if s.person is not None
    ]
    assert _parsed(text) == expected
