"""Silences: matchers and a time range that mute matching alerts, with who and why.

The semantics are Alertmanager's.  A silence is ``pending`` before ``starts_at``,
``active`` until ``ends_at`` and ``expired`` after; expiring one sets ``ends_at`` to
now.  Posting a silence with the ``id`` of an existing one updates it in place when only
its end, comment or creator change (or it has not started); otherwise the old one is
expired and a new one (a new id) replaces it.  Silences are rows, so they survive any
restart; when one ends, a job looks again at the alerts it muted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.ingest import REEVALUATE_JOB, Sql, Tx, json_value
from opsbook.alerts.matchers import Matcher
from opsbook.alerts.models import Silence
from opsbook.core.jobs import schedule

SilenceState = Literal["pending", "active", "expired"]
# Expired silences stay listed this long (Alertmanager's --data.retention default).
EXPIRED_RETENTION = timedelta(hours=120)
MAX_COMMENT = 10_000


class SilenceError(ValueError):
    """A silence that cannot be created or changed as asked."""


class SilenceNotFound(LookupError):
    pass


def state(silence: Silence, now: datetime) -> SilenceState:
    if silence.ends_at <= now:
        return "expired"
    if silence.starts_at > now:
        return "pending"
    return "active"


def matchers_of(silence: Silence) -> list[Matcher]:
    return [Matcher.from_api(item) for item in silence.matchers]


@dataclass(frozen=True, slots=True)
class SilenceChange:
    """What :func:`save` did: ``silence`` is the one now in force (maybe a new id)."""

    silence: Silence
    created: bool
    replaced: str | None = None


def _validate(
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> None:
    if not matchers:
        raise SilenceError("a silence needs at least one matcher")
    if all(m.matches({}) for m in matchers):
        raise SilenceError(
            "at least one matcher must not match the empty string "
            '(a silence of every alert is not allowed; add e.g. alertname="...")'
        )
    if ends_at <= starts_at:
        raise SilenceError("start time must be before end time")
    if ends_at < now:
        raise SilenceError("end time can't be in the past")
    if not created_by.strip():
        raise SilenceError("creator information missing (createdBy)")
    if len(comment) > MAX_COMMENT:
        raise SilenceError(f"a comment may have at most {MAX_COMMENT} characters")


def save(
    session: Session,
    *,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
    silence_id: str | None = None,
) -> SilenceChange:
    """Create a silence, or update the one with ``silence_id`` (see the module docstring)."""
    _validate(matchers, starts_at, ends_at, created_by, comment, now)
    starts_at = max(starts_at, now) if silence_id is None else starts_at
    data = [m.to_api() for m in matchers]
    if silence_id is not None:
        existing = session.get(Silence, silence_id, with_for_update=True)
        if existing is None:
            raise SilenceNotFound(f"silence {silence_id} not found")
        current = state(existing, now)
        in_place = (
            current != "expired"
            and existing.matchers == data
            and (current == "pending" or existing.starts_at == starts_at)
        )
        if in_place:
            existing.starts_at = max(starts_at, now) if current == "pending" else starts_at
            existing.ends_at, existing.comment = ends_at, comment
            existing.created_by, existing.updated_at = created_by, now
            _schedule_end(session, existing, now)
            return SilenceChange(existing, created=False)
        expire(session, silence_id=silence_id, now=now)
        replaced: str | None = silence_id
    else:
        replaced = None
    silence = Silence(
        id=str(uuid.uuid4()),
        matchers=data,
        starts_at=max(starts_at, now),
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
        created_at=now,
        updated_at=now,
    )
    session.add(silence)
    session.flush()
    _schedule_end(session, silence, now)
    return SilenceChange(silence, created=True, replaced=replaced)


def expire(session: Session, *, silence_id: str, now: datetime) -> Silence:
    """End a silence now; expiring an expired silence changes nothing."""
    silence = session.get(Silence, silence_id, with_for_update=True)
    if silence is None:
        raise SilenceNotFound(f"silence {silence_id} not found")
    current = state(silence, now)
    if current == "expired":
        return silence
    if current == "pending":
        silence.starts_at = now
    silence.ends_at = now
    silence.updated_at = now
    session.flush()
    _schedule_end(session, silence, now)
    return silence


def _schedule_end(session: Session, silence: Silence, now: datetime) -> None:
    # When the silence ends, the alerts it muted are looked at again: their groups
    # flush, their incidents open.  Keyed by the end time: an update moves it.
    schedule(
        session,
        kind=REEVALUATE_JOB,
        key=f"{REEVALUATE_JOB}:silence:{silence.id}:{int(silence.ends_at.timestamp() * 1000)}",
        run_at=max(silence.ends_at, now),
        now=now,
        payload={"matchers": list(silence.matchers)},
    )


def get(session: Session, *, silence_id: str) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise SilenceNotFound(f"silence {silence_id} not found")
    return silence


def list_silences(
    session: Session, *, now: datetime, include_expired: bool = True
) -> list[Silence]:
    """Active first (soonest to end first), then pending, then recently expired."""
    stmt = select(Silence)
    if include_expired:
        stmt = stmt.where(Silence.ends_at > now - EXPIRED_RETENTION)
    else:
        stmt = stmt.where(Silence.ends_at > now)
    found = list(session.scalars(stmt))
    order = {"active": 0, "pending": 1, "expired": 2}

    def position(silence: Silence) -> tuple[int, float]:
        current = state(silence, now)
        if current == "active":
            return (0, silence.ends_at.timestamp())
        if current == "pending":
            return (1, silence.starts_at.timestamp())
        return (order[current], -silence.ends_at.timestamp())

    return sorted(found, key=position)


def active_silences(session: Tx, *, now: datetime) -> list[tuple[str, list[Matcher]]]:
    """The silences in force at ``now``: one indexed read on every flush, so raw SQL."""
    return silences_and_expiry(session, now=now, probe_expired=False)[0]


def silences_and_expiry(
    session: Tx, *, now: datetime, probe_expired: bool = True
) -> tuple[list[tuple[str, list[Matcher]]], bool]:
    """The silences in force at ``now``, and whether any open alert is past its
    ``ends_at`` (one index probe, which a flush round needs too), in one statement: each
    statement is a round trip to PostgreSQL, and a new alert's notification waits for
    every one of them."""
    sql = Sql(session)
    stamp = sql.time(now)
    query = f"SELECT id, matchers FROM silences WHERE ends_at > {sql.ph} AND starts_at <= {sql.ph}"
    params: tuple[Any, ...] = (stamp, stamp)
    if probe_expired:
        # A row of NULLs says "some alert expired"; no silence has a NULL id.
        query += (
            " UNION ALL SELECT NULL, NULL WHERE EXISTS (SELECT 1 FROM alerts "
            "WHERE resolved_at IS NULL AND ends_at IS NOT NULL "
            f"AND ends_at <= {sql.ph})"
        )
        params += (stamp,)
    silences: list[tuple[str, list[Matcher]]] = []
    expired = False
    for silence_id, matchers in sql.rows(query, params):
        if silence_id is None:
            expired = True
            continue
        silences.append((silence_id, [Matcher.from_api(item) for item in json_value(matchers)]))
    return silences, expired
