"""The outbox: notifications are rows first, deliveries second.

:func:`enqueue` is called inside the transaction of the change that causes the
message, so either both commit or neither does.  A dispatcher then :func:`claim`\\s
due rows, delivers them with no transaction open, and records the outcome with
:func:`mark_delivered` or :func:`mark_failed`, each conditional on still holding the
claim.  A row whose dispatcher died mid-send is claimed again when its lease expires;
the receiver sees the same ``idempotency_key`` and can drop the repeat.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.core import wakeup
from opsbook.core.db import (
    MAX_PARAMETERS,
    Database,
    driver_cursor,
    execute_raw,
    sqlite_datetime,
)
from opsbook.core.leases import claim_due, park_exhausted, still_held
from opsbook.core.models import Notification

NOTIFICATION_STATUSES = ("pending", "sending", "delivered", "dead")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed notification, detached from any session."""

    id: int
    channel: str
    kind: str
    target: str | None
    idempotency_key: str
    message: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: datetime
    # What queued it, e.g. ``incident:42`` (outcomes are reported back to that record).
    source: str | None = None

    @classmethod
    def of(cls, row: Notification) -> Delivery:
        return cls(
            id=row.id,
            channel=row.channel,
            kind=row.kind,
            target=row.target,
            idempotency_key=row.idempotency_key,
            message=dict(row.message),
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            created_at=row.created_at,
            source=row.source,
        )


@functools.cache
def _enqueue_statement(dialect: str) -> Any:
    """The INSERT behind :func:`enqueue`, built once (every page is one)."""
    table = cast(Table, Notification.__table__)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
        .returning(table.c.id)
    )


def enqueue(
    session: Session,
    *,
    channel: str,
    kind: str,
    message: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    target: str | None = None,
    source: str | None = None,
    max_attempts: int = 12,
    deliver_at: datetime | None = None,
) -> bool:
    """Add a notification to the outbox; a repeated ``idempotency_key`` is a no-op.

    Returns whether a new row was written.
    """
    values = {
        "channel": channel,
        "kind": kind,
        "target": target,
        "idempotency_key": idempotency_key,
        "message": message,
        "source": source,
        "status": "pending",
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": deliver_at or now,
        "created_at": now,
    }
    stmt = _enqueue_statement(session.get_bind().dialect.name)
    written = session.execute(stmt, values).first() is not None
    if written:
        due = deliver_at if deliver_at is not None and deliver_at > now else None
        wakeup.mark(session, due=due, topic=wakeup.OUTBOX)
    return written


def enqueue_many(session: Session, *, rows: list[dict[str, Any]], now: datetime) -> None:
    """:func:`enqueue` for many notifications in one statement (a busy producer's path).

    Each row has ``channel``, ``kind``, ``message``, ``idempotency_key`` and optionally
    ``target``, ``source``, ``max_attempts``; repeated keys are skipped as by ``enqueue``.
    """
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = [
        {
            "channel": row["channel"],
            "kind": row["kind"],
            "target": row.get("target"),
            "idempotency_key": row["idempotency_key"],
            "message": row["message"],
            "source": row.get("source"),
            "status": "pending",
            "attempts": 0,
            "max_attempts": row.get("max_attempts", 12),
            "next_attempt_at": now,
            "created_at": now,
        }
        for row in rows
    ]
    stmt = insert(Notification).on_conflict_do_nothing(
        index_elements=[Notification.idempotency_key]
    )
    session.connection().execute(stmt, values)
    wakeup.mark(session, topic=wakeup.OUTBOX)


CLAIM_PARAMETERS = 11  # a notification's, in enqueue_claimed
CLAIMED_PER_STATEMENT = MAX_PARAMETERS // CLAIM_PARAMETERS


def enqueue_claimed(
    dbapi: Any,
    *,
    dialect: str,
    rows: list[dict[str, Any]],
    now: datetime,
    worker_id: str,
    lease: timedelta,
    before: Sequence[tuple[str, Sequence[Any]]] = (),
) -> list[Delivery]:
    """:func:`enqueue_many`, with the new rows already claimed by ``worker_id``.

    ``before`` are data-modifying statements and their parameters (PostgreSQL, ``%s``
    placeholders) to run in the same statement, each as a ``WITH``: one round trip for
    them all (with no rows, they run as one statement of their own).

    For a producer that runs beside a dispatcher and hands it what it just committed
    (:meth:`opsbook.notify.dispatcher.Dispatcher.deliver_claimed`): no wake-up, no
    claim transaction, the send starts the moment the commit returns.  The rows are
    ``sending`` on their first attempt, leased as by :func:`claim`; should the producer
    die before the send is recorded, the lease expires and any worker claims them
    again.  Repeated idempotency keys are skipped, and not returned.
    """
    if len(rows) > CLAIMED_PER_STATEMENT:
        claimed = enqueue_claimed(
            dbapi,
            dialect=dialect,
            rows=rows[:CLAIMED_PER_STATEMENT],
            now=now,
            worker_id=worker_id,
            lease=lease,
            before=before,
        )
        return claimed + enqueue_claimed(
            dbapi,
            dialect=dialect,
            rows=rows[CLAIMED_PER_STATEMENT:],
            now=now,
            worker_id=worker_id,
            lease=lease,
        )
    if not rows:
        if before:  # nothing to enqueue: the statements alone
            *first, (last, last_params) = before
            execute_raw(dbapi, *_with(first, last, last_params))
        return []
    sqlite = dialect == "sqlite"
    ph = "?" if sqlite else "%s"
    stamp: Any = sqlite_datetime(now) if sqlite else now
    expires: Any = sqlite_datetime(now + lease) if sqlite else now + lease
    params: list[Any] = []
    for row in rows:
        params += (
            row["channel"],
            row["kind"],
            row.get("target"),
            row["idempotency_key"],
            json.dumps(row["message"]),
            row.get("source"),
            row.get("max_attempts", 12),
            stamp,
            stamp,
            worker_id,
            expires,
        )
    value = f"({ph},{ph},{ph},{ph},{ph},{ph},'sending',1,{ph},{ph},{ph},{ph},{ph})"
    # Raw SQL on the driver's connection (in the caller's transaction): this is on the
    # path from a new alert to its notification, where SQLAlchemy's statement machinery
    # cost more than the insert itself.
    insert = (
        "INSERT INTO notifications (channel, kind, target, idempotency_key, message, "
        "source, status, attempts, max_attempts, next_attempt_at, created_at, "
        "lease_owner, lease_expires_at) VALUES "
        + ",".join([value] * len(rows))
        + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
    )
    if before:
        if sqlite:
            raise ValueError("SQLite has no data-modifying WITH")
        insert, params = _with(before, insert, params)
    cursor, statement = driver_cursor(dbapi, insert)
    try:
        cursor.execute(statement, tuple(params))
        ids = {key: int(row_id) for row_id, key in cursor.fetchall()}
    finally:
        cursor.close()
    return [
        Delivery(
            id=ids[row["idempotency_key"]],
            channel=row["channel"],
            kind=row["kind"],
            target=row.get("target"),
            idempotency_key=row["idempotency_key"],
            message=row["message"],
            attempts=1,
            max_attempts=row.get("max_attempts", 12),
            created_at=now,
            source=row.get("source"),
        )
        for row in rows
        if row["idempotency_key"] in ids
    ]


def _with(
    before: Sequence[tuple[str, Sequence[Any]]], statement: str, params: Sequence[Any]
) -> tuple[str, list[Any]]:
    """``statement`` run after ``before``, each a data-modifying ``WITH`` of it."""
    if not before:
        return statement, list(params)
    ctes = ", ".join(f"before_{n} AS ({sql})" for n, (sql, _) in enumerate(before))
    return f"WITH {ctes} {statement}", [p for _, ps in before for p in ps] + list(params)


def claim(
    db: Database, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[Delivery]:
    with db.session() as session, session.begin():
        park_exhausted(session, Notification, active_status="sending", now=now)
        rows = claim_due(
            session,
            Notification,
            due_column=Notification.next_attempt_at,
            active_status="sending",
            worker_id=worker_id,
            now=now,
            lease=lease,
            limit=limit,
        )
        return [Delivery.of(row) for row in rows]


def mark_delivered(db: Database, delivery: Delivery, *, worker_id: str, now: datetime) -> bool:
    with db.session() as session, session.begin():
        return mark_delivered_in(session, delivery, worker_id=worker_id, now=now)


def mark_delivered_in(
    session: Session, delivery: Delivery, *, worker_id: str, now: datetime
) -> bool:
    """:func:`mark_delivered` in the caller's transaction (to record many outcomes in one).

    Raw SQL (one per notification delivered, where the ORM's update cost ~1 ms), with
    the claim condition of :func:`opsbook.core.leases.still_held`.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    ph = "?" if sqlite else "%s"
    latency = max(0, int((now - delivery.created_at).total_seconds() * 1000))
    cursor, statement = driver_cursor(
        session.connection().connection.dbapi_connection,
        f"UPDATE notifications SET status = 'delivered', delivered_at = {ph}, "
        f"latency_ms = {ph}, lease_owner = NULL, lease_expires_at = NULL, last_error = NULL "
        f"WHERE id = {ph} AND lease_owner = {ph} AND attempts = {ph}",
    )
    try:
        cursor.execute(
            statement,
            (
                sqlite_datetime(now) if sqlite else now,
                latency,
                delivery.id,
                worker_id,
                delivery.attempts,
            ),
        )
        return bool(cursor.rowcount == 1)
    finally:
        cursor.close()


def mark_failed(
    db: Database,
    delivery: Delivery,
    *,
    worker_id: str,
    now: datetime,
    error: str,
    retry_after: timedelta | None,
) -> str:
    """Record a failed attempt; ``retry_after=None`` (or no attempts left) parks it as dead.

    Returns the notification's new status, or ``"lost"`` when the claim was taken over.
    """
    with db.session() as session, session.begin():
        return mark_failed_in(
            session, delivery, worker_id=worker_id, now=now, error=error, retry_after=retry_after
        )


def mark_failed_in(
    session: Session,
    delivery: Delivery,
    *,
    worker_id: str,
    now: datetime,
    error: str,
    retry_after: timedelta | None,
) -> str:
    """:func:`mark_failed` in the caller's transaction."""
    exhausted = delivery.attempts >= delivery.max_attempts
    status = "dead" if retry_after is None or exhausted else "pending"
    held = still_held(
        Notification, row_id=delivery.id, worker_id=worker_id, attempts=delivery.attempts
    )
    values: dict[str, Any] = {
        "status": status,
        "last_error": error[:2000],
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if status == "pending" and retry_after is not None:
        values["next_attempt_at"] = now + retry_after
    result = session.execute(
        update(Notification)
        .where(held)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return status if result.rowcount else "lost"  # type: ignore[attr-defined]


def release(db: Database, delivery: Delivery, *, worker_id: str, now: datetime) -> None:
    """Give back a claim unfinished (on shutdown) so another worker sends it at once."""
    held = still_held(
        Notification, row_id=delivery.id, worker_id=worker_id, attempts=delivery.attempts
    )
    with db.session() as session, session.begin():
        session.execute(
            update(Notification)
            .where(held)
            .values(
                status="pending",
                next_attempt_at=now,
                attempts=Notification.attempts - 1,
                lease_owner=None,
                lease_expires_at=None,
            )
        )


def backlog(session: Session) -> int:
    """Notifications accepted but not yet delivered (pending or in flight)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status.in_(("pending", "sending")))
        )
        or 0
    )


def retry_dead(session: Session, *, notification_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "dead")
        .values(status="pending", next_attempt_at=now, attempts=0)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_notifications(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Notification.status == status)
    return list(session.scalars(stmt))
