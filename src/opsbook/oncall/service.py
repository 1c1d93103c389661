"""Who is on call: schedules resolved with the overrides people made, and the overrides.

Keyword-only functions; the session is passed in and the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.oncall.config import LAYERS, ScheduleConfig
from opsbook.oncall.models import Override
from opsbook.oncall.shifts import (
    SHIFT_HORIZON,
    OverrideSpan,
    Shift,
    coverage,
    layer_shifts,
    on_call,
)

MAX_OVERRIDE = timedelta(days=90)
MAX_WINDOW = timedelta(days=400)
# How far ahead person_at works a layer out at once, for the rest of its transaction.
MEMO_WINDOW = timedelta(minutes=10)
_MEMO_KEY = "opsbook.oncall.resolved"


class OncallError(ValueError):
    """A refused request (unknown schedule or person, a bad override); safe to show."""


@dataclass(frozen=True, slots=True)
class LayerShifts:
    """The final shifts of one layer over a window, and how much of it is covered."""

    schedule: str
    layer: str
    timezone: str
    shifts: tuple[Shift, ...]
    coverage: float

    @property
    def gaps(self) -> tuple[Shift, ...]:
        return tuple(s for s in self.shifts if s.is_gap)


def zone_of(config: OpsbookConfig, schedule: ScheduleConfig) -> ZoneInfo:
    return schedule.timezone or config.service.timezone


def get_schedule(config: OpsbookConfig, name: str) -> ScheduleConfig:
    schedule = config.oncall.find_schedule(name)
    if schedule is None:
        known = ", ".join(s.name for s in config.oncall.schedules) or "none"
        raise OncallError(f"no schedule {name!r} (schedules: {known})")
    return schedule


def _schedules(config: OpsbookConfig, name: str | None) -> list[ScheduleConfig]:
    return [get_schedule(config, name)] if name else list(config.oncall.schedules)


def override_spans(
    session: Session, *, schedule: str, start: datetime, end: datetime
) -> list[OverrideSpan]:
    """The live overrides of ``schedule`` that overlap ``[start, end)``."""
    rows = session.scalars(
        select(Override)
        .where(
            Override.schedule == schedule,
            Override.removed_at.is_(None),
            Override.starts_at < end,
            Override.ends_at > start,
        )
        .order_by(Override.id)
    )
    return [OverrideSpan(o.id, o.layer, o.person, o.starts_at, o.ends_at) for o in rows]


def current_shift(
    session: Session, *, config: OpsbookConfig, schedule: ScheduleConfig, layer: str, at: datetime
) -> Shift:
    """The shift under way at ``at`` in one layer, overrides included (a gap if nobody)."""
    zone = zone_of(config, schedule)
    spans = override_spans(
        session, schedule=schedule.name, start=at - SHIFT_HORIZON, end=at + SHIFT_HORIZON
    )
    return on_call(schedule, layer, zone=zone, at=at, overrides=spans)


def person_at(
    session: Session, *, config: OpsbookConfig, schedule: ScheduleConfig, layer: str, at: datetime
) -> str | None:
    """Who holds ``layer`` at ``at`` (None in a gap): what paging asks, cheaply.

    Unlike :func:`current_shift` it resolves only the instant, not the whole shift.  The
    answer is worked out once per transaction for the next :data:`MEMO_WINDOW`, so a
    burst of escalation steps run together (see ``JobRunner``) reads the overrides once.
    """
    memo = _memo(session)
    key = (schedule.name, layer)
    found = memo.get(key) if memo is not None else None
    if found is None or found.schedule is not schedule or not found.start <= at < found.end:
        end = at + MEMO_WINDOW
        spans = override_spans(session, schedule=schedule.name, start=at, end=end)
        shifts = layer_shifts(
            schedule, layer, zone=zone_of(config, schedule), start=at, end=end, overrides=spans
        )
        found = _Resolved(schedule, at, end, tuple(shifts))
        if memo is not None:
            memo[key] = found
    return next(shift.person for shift in found.shifts if shift.start <= at < shift.end)


@dataclass(frozen=True, slots=True)
class _Resolved:
    schedule: ScheduleConfig  # the config object it was worked out from (a reload: afresh)
    start: datetime
    end: datetime
    shifts: tuple[Shift, ...]


def _memo(session: Session) -> dict[tuple[str, str], _Resolved] | None:
    """This transaction's resolved layers; None outside a transaction."""
    transaction = session.get_transaction()
    if transaction is None:
        return None
    held = session.info.get(_MEMO_KEY)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_MEMO_KEY] = held
    memo: dict[tuple[str, str], _Resolved] = held[1]
    return memo


def _forget_resolved(session: Session) -> None:
    """An override changed in this transaction: resolve afresh from now on."""
    session.info.pop(_MEMO_KEY, None)


def who_is_on_call(
    session: Session, *, config: OpsbookConfig, at: datetime, schedule: str | None = None
) -> list[Shift]:
    """One shift per layer of each schedule (or of ``schedule``): who holds it at ``at``."""
    return [
        current_shift(session, config=config, schedule=s, layer=layer, at=at)
        for s in _schedules(config, schedule)
        for layer in s.layers.defined()
    ]


def final_shifts(
    session: Session,
    *,
    config: OpsbookConfig,
    start: datetime,
    end: datetime,
    schedule: str | None = None,
) -> list[LayerShifts]:
    """Every layer's final shifts over ``[start, end)``: rotations, restrictions, overrides."""
    if end <= start:
        raise OncallError("the window's end must be after its start")
    if end - start > MAX_WINDOW:
        raise OncallError("a window can be at most 400 days long")
    found: list[LayerShifts] = []
    for s in _schedules(config, schedule):
        zone = zone_of(config, s)
        spans = override_spans(session, schedule=s.name, start=start, end=end)
        for layer in s.layers.defined():
            shifts = layer_shifts(s, layer, zone=zone, start=start, end=end, overrides=spans)
            found.append(LayerShifts(s.name, layer, zone.key, tuple(shifts), coverage(shifts)))
    return found


def person_shifts(
    session: Session, *, config: OpsbookConfig, person: str, start: datetime, end: datetime
) -> list[Shift]:
    """The shifts ``person`` holds in any schedule over ``[start, end)``, in time order."""
    if config.find_person(person) is None:
        raise OncallError(f"no person {person!r} in people:")
    shifts = [
        shift
        for layer in final_shifts(session, config=config, start=start, end=end)
        for shift in layer.shifts
        if shift.person == person
    ]
    return sorted(shifts, key=lambda s: (s.start, s.schedule, s.layer))


def add_override(
    session: Session,
    *,
    config: OpsbookConfig,
    schedule: str,
    person: str,
    start: datetime,
    end: datetime,
    by: str,
    now: datetime,
    layer: str = "primary",
    reason: str = "",
) -> Override:
    """Let ``person`` take ``layer`` of ``schedule`` from ``start`` to ``end``."""
    found = get_schedule(config, schedule)
    if layer not in LAYERS or layer not in found.layers.defined():
        defined = ", ".join(found.layers.defined())
        raise OncallError(f"schedule {schedule!r} has no {layer!r} layer (layers: {defined})")
    if config.find_person(person) is None:
        known = ", ".join(p.id for p in config.people) or "none"
        raise OncallError(f"no person {person!r} in people: (known: {known})")
    if start.tzinfo is None or end.tzinfo is None:
        raise OncallError("override times need a time zone")
    if end <= start:
        raise OncallError("an override must end after it starts")
    if end <= now:
        raise OncallError("an override must end in the future")
    if end - start > MAX_OVERRIDE:
        raise OncallError("an override can be at most 90 days long; change the rotation instead")
    override = Override(
        schedule=schedule,
        layer=layer,
        person=person,
        starts_at=start,
        ends_at=end,
        reason=" ".join(reason.split())[:500],
        created_by=by,
        created_at=now,
    )
    session.add(override)
    session.flush()
    _forget_resolved(session)
    return override


def list_overrides(
    session: Session, *, now: datetime, schedule: str | None = None, include_past: bool = False
) -> Sequence[Override]:
    """Live overrides (not removed), soonest first; past ones too with ``include_past``."""
    stmt = select(Override).where(Override.removed_at.is_(None)).order_by(Override.starts_at)
    if schedule is not None:
        stmt = stmt.where(Override.schedule == schedule)
    if not include_past:
        stmt = stmt.where(Override.ends_at > now)
    return list(session.scalars(stmt))


def remove_override(session: Session, *, override_id: int, by: str, now: datetime) -> Override:
    override = session.get(Override, override_id)
    if override is None or override.removed_at is not None:
        raise OncallError(f"no override {override_id}")
    override.removed_at = now
    override.removed_by = by
    session.flush()
    _forget_resolved(session)
    return override
