"""Final shifts: rotations, their restrictions and overrides laid over each other.

Within a layer, a later rotation wins wherever it covers (a weekday business-hours
rotation over a 24/7 one), and an override wins over every rotation (the latest override
over an earlier one).  What nothing covers is a **gap**: a shift with no person, listed
like any other, so coverage is never silently short.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from opsbook.oncall.config import ScheduleConfig
from opsbook.oncall.rotation import Rotation, covered_windows

# How far around an instant `on_call` looks to report a whole shift (its start and end).
SHIFT_HORIZON = timedelta(days=35)


@dataclass(frozen=True, slots=True)
class Shift:
    """``person`` (None: a gap) is on call for ``layer`` of ``schedule`` from start to end."""

    schedule: str
    layer: str
    start: datetime
    end: datetime
    person: str | None
    source: str  # "rotation:<name>", "override:<id>" or "gap"

    @property
    def is_gap(self) -> bool:
        return self.person is None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class OverrideSpan:
    """What shift resolution needs of an override (a row of ``oncall_overrides``)."""

    id: int
    layer: str
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class _Piece:
    start: datetime
    end: datetime
    person: str
    source: str
    rank: int  # higher wins


def rotation_label(schedule: ScheduleConfig, layer: str, position: int) -> str:
    rotation = schedule.layers.of(layer)[position]
    return rotation.name or f"{layer}-{position + 1}"


def _pieces(
    schedule: ScheduleConfig,
    layer: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    overrides: Iterable[OverrideSpan],
) -> list[_Piece]:
    pieces: list[_Piece] = []
    for position, config in enumerate(schedule.layers.of(layer)):
        rotation = Rotation(config, zone)
        label = f"rotation:{rotation_label(schedule, layer, position)}"
        for opens, closes in covered_windows(config, zone, start, end):
            for turn in rotation.turns(opens, closes):
                pieces.append(_Piece(turn.start, turn.end, turn.person, label, position))
    base = len(schedule.layers.of(layer))
    for override in overrides:
        if override.layer != layer:
            continue
        cut = (max(override.start, start), min(override.end, end))
        if cut[0] < cut[1]:
            pieces.append(
                _Piece(
                    cut[0], cut[1], override.person, f"override:{override.id}", base + override.id
                )
            )
    return pieces


def layer_shifts(
    schedule: ScheduleConfig,
    layer: str,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    overrides: Sequence[OverrideSpan] = (),
) -> list[Shift]:
    """The final shifts of one layer over ``[start, end)``: contiguous, gaps included."""
    if start >= end:
        return []
    pieces = _pieces(schedule, layer, zone, start, end, overrides)
    edges = sorted({start, end, *(p.start for p in pieces), *(p.end for p in pieces)})
    by_start = sorted(pieces, key=lambda p: p.start)
    active: list[_Piece] = []
    shifts: list[Shift] = []
    cursor = 0
    for left, right in itertools.pairwise(edges):
        while cursor < len(by_start) and by_start[cursor].start <= left:
            active.append(by_start[cursor])
            cursor += 1
        active = [p for p in active if p.end > left]
        winner = max(active, key=lambda p: p.rank, default=None)
        person = winner.person if winner else None
        source = winner.source if winner else "gap"
        last = shifts[-1] if shifts else None
        if last is not None and last.person == person and last.source == source:
            shifts[-1] = Shift(schedule.name, layer, last.start, right, person, source)
        else:
            shifts.append(Shift(schedule.name, layer, left, right, person, source))
    return shifts


def coverage(shifts: Iterable[Shift]) -> float:
    """The share of the time someone is on call (1.0 for no time at all)."""
    total = covered = timedelta(0)
    for shift in shifts:
        total += shift.duration
        if not shift.is_gap:
            covered += shift.duration
    return covered / total if total else 1.0


def on_call(
    schedule: ScheduleConfig,
    layer: str,
    *,
    zone: ZoneInfo,
    at: datetime,
    overrides: Sequence[OverrideSpan] = (),
) -> Shift:
    """The shift under way at ``at`` (a gap when no one is on call).

    Its start and end are exact within :data:`SHIFT_HORIZON` of ``at`` and cut there.
    """
    shifts = layer_shifts(
        schedule,
        layer,
        zone=zone,
        start=at - SHIFT_HORIZON,
        end=at + SHIFT_HORIZON,
        overrides=overrides,
    )
    return next(s for s in shifts if s.start <= at < s.end)
