"""Claiming due rows with a lease: the one mechanism behind jobs and the outbox.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so workers never wait on each
other.  SQLite (one writer at a time) claims with a compare-and-set ``UPDATE ...
WHERE status = :old AND attempts = :old`` and checks the row count.  Either way a
claim bumps ``attempts``, which makes every later write by the claimer conditional
on still holding that exact claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


class Leased(Protocol):
    id: Any
    status: Any
    attempts: Any
    lease_owner: Any
    lease_expires_at: Any


def claim_due(
    session: Session,
    model: type[Any],
    *,
    due_column: InstrumentedAttribute[datetime],
    active_status: str,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    extra_values: dict[str, Any] | None = None,
) -> list[Any]:
    """Claim up to ``limit`` due rows of ``model`` for ``worker_id``; the caller commits.

    A row is due when it is ``pending`` and its ``due_column`` has passed, or when it
    is ``active_status`` but its lease has expired (its worker died or hung).
    """
    due = or_(
        and_(model.status == "pending", due_column <= now),
        and_(model.status == active_status, model.lease_expires_at < now),
    )
    values = {
        "status": active_status,
        "lease_owner": worker_id,
        "lease_expires_at": now + lease,
        "attempts": model.attempts + 1,
        **(extra_values or {}),
    }
    if session.get_bind().dialect.name == "postgresql":
        candidates = (
            select(model.id)
            .where(due)
            .order_by(due_column)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = update(model).where(model.id.in_(candidates)).values(**values).returning(model)
        return list(session.scalars(stmt, execution_options={"synchronize_session": False}))

    rows = session.execute(
        select(model.id, model.status, model.attempts).where(due).order_by(due_column).limit(limit)
    ).all()
    claimed_ids = []
    for row_id, status, attempts in rows:
        result = session.execute(
            update(model)
            .where(model.id == row_id, model.status == status, model.attempts == attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed_ids.append(row_id)
    if not claimed_ids:
        return []
    return list(
        session.scalars(select(model).where(model.id.in_(claimed_ids)).order_by(due_column))
    )


def park_exhausted(
    session: Session,
    model: type[Any],
    *,
    active_status: str,
    now: datetime,
    extra_values: dict[str, Any] | None = None,
) -> int:
    """Park rows whose last allowed claim expired: their worker died on every attempt.

    Without this a row that crashes its worker would be reclaimed forever.
    """
    result = session.execute(
        update(model)
        .where(
            model.status == active_status,
            model.lease_expires_at < now,
            model.attempts >= model.max_attempts,
        )
        .values(
            status="dead",
            last_error="lease expired on the last attempt (worker crashed or hung)",
            lease_owner=None,
            lease_expires_at=None,
            **(extra_values or {}),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def still_held(model: type[Any], *, row_id: Any, worker_id: str, attempts: int) -> Any:
    """The WHERE clause that makes a write conditional on holding this exact claim."""
    return and_(model.id == row_id, model.lease_owner == worker_id, model.attempts == attempts)


def backoff_delay(attempt: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff: base, 2 * base, 4 * base, and so on, capped at ``cap``."""
    exponent = max(0, min(attempt - 1, 32))
    return min(base * (1 << exponent), cap)
