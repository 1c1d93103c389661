"""Heartbeats: record pings, and fail a check whose job went quiet.

The watched job pings ``POST /api/v1/heartbeats/{key}``; a periodic job calls
:func:`evaluate` and records what it returns like any other check results.  After each
ping (or, before the first, after Opsbook started watching) the next ping is due by the
next expected run, ``last_ping + period`` or the next cron fire time, plus ``grace``.
Cron expressions are read in the check's time zone (UTC by default): a time skipped by
a DST change fires after the jump (01:30 on a spring-forward night in London is 02:30
BST), and a repeated local time fires once, at its first occurrence.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks.heartbeat.config import HeartbeatCheckConfig
from opsbook.checks.models import HeartbeatRecord
from opsbook.checks.result import CheckResult, Reason
from opsbook.checks.rollups import insert_for

KIND = "heartbeat"


@dataclass(frozen=True, slots=True)
class HeartbeatCheck:
    """A configured heartbeat check: its name, its ``heartbeat:`` section, its thresholds."""

    name: str
    config: HeartbeatCheckConfig
    fail_after: int = 1
    recover_after: int = 1


def match_key(checks: Sequence[HeartbeatCheck], key: str) -> str | None:
    """The check whose key is ``key``, comparing against every key in constant time."""
    found: str | None = None
    offered = key.encode()
    for check in checks:
        # No early exit: the time taken must not tell how many keys were tried.
        if hmac.compare_digest(offered, check.config.key.get_secret_value().encode()):
            found = check.name
    return found


def record_ping(
    session: Session,
    *,
    checks: Sequence[HeartbeatCheck],
    key: str,
    now: datetime,
    source: str | None,
) -> str | None:
    """Record a ping; returns the check's name, or None when no check has that key."""
    name = match_key(checks, key)
    if name is None:
        return None
    values = {
        "check_name": name,
        "watching_since": now,
        "last_ping_at": now,
        "pings": 1,
        "last_source": (source or "")[:64] or None,
    }
    stmt = insert_for(session)(HeartbeatRecord).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["check_name"],
            set_={
                "last_ping_at": now,
                "pings": HeartbeatRecord.pings + 1,
                "last_source": values["last_source"],
            },
        )
    )
    return name


def next_expected(config: HeartbeatCheckConfig, *, after: datetime) -> datetime:
    """When the next ping is expected (before grace) given one at ``after``."""
    if config.period is not None:
        return after + config.period
    assert config.cron is not None  # the config model requires period or cron
    return next_cron_fire(config.cron, config.timezone or ZoneInfo("UTC"), after=after)


def next_cron_fire(expression: str, zone: ZoneInfo, *, after: datetime) -> datetime:
    """The first fire time of ``expression`` in ``zone`` strictly after ``after`` (UTC).

    croniter walks wall-clock times; each is placed in ``zone`` with ``fold=0`` (the
    first of a repeated time; a skipped time lands after the jump) and times not after
    ``after`` are passed over, which is what makes a repeated hour fire once.
    """
    local = after.astimezone(zone).replace(tzinfo=None)
    walk = croniter(expression, local)
    for _ in range(1000):
        candidate = walk.get_next(datetime).replace(tzinfo=zone).astimezone(UTC)
        if candidate > after:
            return candidate
    raise ValueError(f"cron expression {expression!r} does not fire after {after}")


def evaluate(
    session: Session, *, checks: Sequence[HeartbeatCheck], now: datetime
) -> list[CheckResult]:
    """One result per heartbeat check: failed when its ping is overdue past grace."""
    if not checks:
        return []
    _start_watching(session, checks=checks, now=now)
    rows = {
        row.check_name: row
        for row in session.scalars(
            select(HeartbeatRecord).where(HeartbeatRecord.check_name.in_([c.name for c in checks]))
        )
    }
    results = []
    for check in checks:
        row = rows[check.name]
        reference = row.last_ping_at or row.watching_since
        deadline = next_expected(check.config, after=reference) + check.config.grace
        ok = now <= deadline
        observed = {
            "last_ping_at": row.last_ping_at.isoformat() if row.last_ping_at else None,
            "pings": row.pings,
            "deadline": deadline.isoformat(),
            "last_source": row.last_source,
        }
        reason = None
        if not ok:
            since = f"since {reference.isoformat()}" if row.last_ping_at else "ever"
            reason = Reason(
                "timeout", f"no ping {since}; expected by {deadline.isoformat()} (incl. grace)"
            )
        results.append(
            CheckResult(
                check=check.name,
                kind=KIND,
                started_at=now,
                ok=ok,
                status="up" if ok else "down",
                reason=reason,
                observed=observed,
            )
        )
    return results


def _start_watching(session: Session, *, checks: Sequence[HeartbeatCheck], now: datetime) -> None:
    # A check that has never been pinged is given one period from when we began watching.
    stmt = insert_for(session)(HeartbeatRecord).on_conflict_do_nothing(
        index_elements=["check_name"]
    )
    session.execute(
        stmt,
        [
            {"check_name": c.name, "watching_since": now, "last_ping_at": None, "pings": 0}
            for c in checks
        ],
    )
