"""Wall-clock time to instants: rotation handoffs and restriction windows, DST included.

Everything a schedule says is local wall-clock time in a named zone.  A wall time is
turned into an instant the way RFC 5545 (section 3.3.5) reads a local time, which is also
what Python's ``fold=0`` does:

- a wall time that happens twice (autumn back: 02:30 on the last Sunday of October in
  Berlin) means its **first** occurrence;
- a wall time that does not happen (spring forward: 02:30 on the last Sunday of March)
  is read with the offset from **before** the gap, so it lands as far past the gap's
  start as it was meant to be: 02:30 becomes 03:30 CEST.

Turn *k* of a rotation starts at the wall time ``start + handoff + k * turn`` (calendar
arithmetic on wall time, so a weekly rotation hands off at 09:00 local all year, and its
shifts are 167 or 169 hours long the weeks the clocks change).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbook.oncall.config import MINUTES_PER_DAY, WEEKDAYS, RestrictionConfig, RotationConfig

# The longest wall-clock gap any zone has had (Samoa skipped 30 December 2011) plus slack:
# a handoff inside a gap can map past later handoffs when the turn is shorter than the gap.
_LONGEST_GAP = timedelta(hours=26)


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall time, read as RFC 5545 reads it."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def instant_to_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a rotation: ``person`` from ``start`` until ``end`` (UTC)."""

    index: int
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rotation:
    """A rotation bound to its schedule's zone; answers who holds turn *k* and when."""

    config: RotationConfig
    zone: ZoneInfo

    @property
    def first_wall(self) -> datetime:
        return datetime.combine(self.config.start, time()) + timedelta(minutes=self.config.handoff)

    def _raw_handoff(self, index: int) -> datetime:
        return wall_to_instant(self.first_wall + index * self.config.turn, self.zone)

    def handoff(self, index: int) -> datetime:
        """When turn ``index`` starts.

        Taken as the earliest of this and the next few raw handoffs, so handoffs never go
        backwards even when a turn shorter than a DST gap starts inside one (the skipped
        turn then lasts no time at all).
        """
        lookahead = max(1, math.ceil(_LONGEST_GAP / self.config.turn)) + 1
        return min(self._raw_handoff(index + step) for step in range(lookahead))

    def person(self, index: int) -> str:
        return self.config.people[index % len(self.config.people)]

    def index_at(self, instant: datetime) -> int | None:
        """The turn under way at ``instant``, or None before the rotation starts."""
        if instant < self.handoff(0):
            return None
        elapsed = instant_to_wall(instant, self.zone) - self.first_wall
        index = max(0, elapsed // self.config.turn)
        while self.handoff(index + 1) <= instant:
            index += 1
        while index > 0 and self.handoff(index) > instant:
            index -= 1
        return index

    def turns(self, start: datetime, end: datetime) -> Iterator[Turn]:
        """The turns overlapping ``[start, end)``, cut to it; empty turns are skipped."""
        index = self.index_at(start)
        if index is None:
            index = 0
        begin = self.handoff(index)
        while begin < end:
            finish = self.handoff(index + 1)
            cut = Turn(index, self.person(index), max(begin, start), min(finish, end))
            if cut.start < cut.end:
                yield cut
            index, begin = index + 1, finish


def restriction_windows(
    restriction: RestrictionConfig, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The instants ``restriction`` covers within ``[start, end)``, in order."""
    length = (restriction.to - restriction.from_) % MINUTES_PER_DAY or MINUTES_PER_DAY
    first = instant_to_wall(start, zone).date() - timedelta(days=1)
    last = instant_to_wall(end, zone).date()
    day = first
    while day <= last:
        if WEEKDAYS[day.weekday()] in restriction.days:
            opens = _at(day, restriction.from_, zone)
            closes = _at(day, restriction.from_ + length, zone)
            window = (max(opens, start), min(closes, end))
            if window[0] < window[1]:
                yield window
        day += timedelta(days=1)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    return wall_to_instant(datetime.combine(day, time()) + timedelta(minutes=minutes), zone)


def covered_windows(
    rotation: RotationConfig, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Where a rotation's restrictions let it cover ``[start, end)``: merged, in order."""
    if not rotation.restrictions:
        return [(start, end)]
    windows = sorted(
        window
        for restriction in rotation.restrictions
        for window in restriction_windows(restriction, zone, start, end)
    )
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in windows:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged
