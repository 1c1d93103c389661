"""The outbox's claims: leases expire, a lost claim cannot record, poison rows are parked."""

from __future__ import annotations

from datetime import timedelta

from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Notification

LEASE = timedelta(seconds=30)


def _enqueue(db: Database, clock: FakeClock, key: str = "k", max_attempts: int = 12) -> None:
    with db.session() as session, session.begin():
        outbox.enqueue(
            session,
            channel="ops",
            kind="webhook",
            message={"title": "t"},
            idempotency_key=key,
            now=clock.now(),
            max_attempts=max_attempts,
        )


def _row(db: Database) -> Notification:
    with db.session() as session:
        [row] = session.query(Notification).all()
        return row


def test_a_claim_whose_lease_expired_cannot_record_an_outcome(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock)
    [stale] = outbox.claim(db, worker_id="a", now=clock.now(), lease=LEASE, limit=10)
    clock.advance(LEASE + timedelta(seconds=1))
    [fresh] = outbox.claim(db, worker_id="b", now=clock.now(), lease=LEASE, limit=10)
    assert fresh.attempts == 2
    assert not outbox.mark_delivered(db, stale, worker_id="a", now=clock.now())
    status = outbox.mark_failed(
        db, stale, worker_id="a", now=clock.now(), error="x", retry_after=timedelta(seconds=5)
    )
    assert status == "lost"
    assert outbox.mark_delivered(db, fresh, worker_id="b", now=clock.now())
    assert _row(db).status == "delivered"


def test_a_notification_whose_sender_dies_every_time_is_parked(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock, max_attempts=2)
    for worker in ("a", "b"):
        assert len(outbox.claim(db, worker_id=worker, now=clock.now(), lease=LEASE, limit=10)) == 1
        clock.advance(LEASE + timedelta(seconds=1))
    assert outbox.claim(db, worker_id="c", now=clock.now(), lease=LEASE, limit=10) == []
    row = _row(db)
    assert row.status == "dead"
    assert "lease expired" in (row.last_error or "")


def test_a_released_claim_is_sent_at_once_without_using_an_attempt(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock)
    [claimed] = outbox.claim(db, worker_id="a", now=clock.now(), lease=LEASE, limit=10)
    outbox.release(db, claimed, worker_id="a", now=clock.now())
    [again] = outbox.claim(db, worker_id="b", now=clock.now(), lease=LEASE, limit=10)
    assert again.attempts == 1
