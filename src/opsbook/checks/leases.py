"""Check ownership: several schedulers on one PostgreSQL split the checks between them.

Each scheduler calls :func:`claim_checks` every third of a lease period.  One round:

1. announce itself in ``check_schedulers`` and count the live ones (seen within a lease);
2. renew the leases it holds;
3. give back what it holds beyond its fair share, ``ceil(checks / live schedulers)``,
   so a scheduler that joins gets work;
4. claim free leases (no owner, or expired: their scheduler died) up to its share,
   with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so schedulers never wait on each
   other, and a compare-and-set ``WHERE`` on both engines.

A dead scheduler's checks move to the others within a lease period and a round.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckLease, CheckScheduler
from opsbook.checks.rollups import insert_for


def ensure_lease_rows(session: Session, *, checks: Collection[str]) -> None:
    """Create a (free) lease row for every configured check that has none yet."""
    if not checks:
        return
    stmt = insert_for(session)(CheckLease).on_conflict_do_nothing(index_elements=["check_name"])
    session.execute(
        stmt, [{"check_name": name, "owner": None, "expires_at": None} for name in sorted(checks)]
    )


def claim_checks(
    session: Session,
    *,
    owner: str,
    checks: Collection[str],
    now: datetime,
    lease: timedelta,
) -> frozenset[str]:
    """One ownership round for ``owner``; returns the checks it now holds."""
    _announce(session, owner=owner, now=now, lease=lease)
    live = session.scalar(select(func.count()).where(CheckScheduler.seen_at >= now - lease)) or 1
    share = math.ceil(len(checks) / live) if checks else 0
    expires_at = now + lease
    held = set(
        session.scalars(
            update(CheckLease)
            .where(CheckLease.owner == owner)
            .values(expires_at=expires_at)
            .returning(CheckLease.check_name),
            execution_options={"synchronize_session": False},
        )
    )
    wanted = set(checks)
    surplus = sorted(held - wanted) + sorted(held & wanted)[share:]
    if surplus:
        session.execute(
            update(CheckLease)
            .where(CheckLease.owner == owner, CheckLease.check_name.in_(surplus))
            .values(owner=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
        held -= set(surplus)
    if len(held) < share:
        held |= _claim_free(
            session, owner=owner, checks=wanted, limit=share - len(held), now=now, until=expires_at
        )
    return frozenset(held)


def _claim_free(
    session: Session,
    *,
    owner: str,
    checks: Collection[str],
    limit: int,
    now: datetime,
    until: datetime,
) -> set[str]:
    free = or_(CheckLease.owner.is_(None), CheckLease.expires_at < now)
    candidates = (
        select(CheckLease.check_name)
        .where(free, CheckLease.check_name.in_(sorted(checks)))
        .order_by(CheckLease.check_name)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    # The outer ``free`` re-check is the compare-and-set: a row taken meanwhile is skipped.
    stmt = (
        update(CheckLease)
        .where(CheckLease.check_name.in_(candidates.scalar_subquery()), free)
        .values(owner=owner, expires_at=until)
        .returning(CheckLease.check_name)
    )
    return set(session.scalars(stmt, execution_options={"synchronize_session": False}))


def release_checks(session: Session, *, owner: str) -> None:
    """Give back every lease and leave, so the others take over at once (clean shutdown)."""
    session.execute(
        update(CheckLease)
        .where(CheckLease.owner == owner)
        .values(owner=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(CheckScheduler).where(CheckScheduler.owner == owner))


def _announce(
    session: Session, *, owner: str, now: datetime, lease: timedelta, forget_after: int = 10
) -> None:
    # Schedulers that vanished long ago (kill -9) would otherwise pile up here forever.
    session.execute(
        delete(CheckScheduler).where(CheckScheduler.seen_at < now - lease * forget_after)
    )
    stmt = insert_for(session)(CheckScheduler).values(owner=owner, seen_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["owner"], set_={"seen_at": now}))
