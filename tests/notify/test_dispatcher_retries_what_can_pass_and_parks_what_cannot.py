"""The dispatcher's decisions: retry with backoff, park dead, and never hold a transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import DeliveryError, Dispatcher, Message, OutgoingNotification, Transport
from opsbook.notify.console.config import ConsoleChannelConfig

pytestmark = pytest.mark.anyio


class ScriptedTransport(Transport):
    """Raises the scripted errors in order, then succeeds; records what it was given."""

    kind = "console"
    config_model = ConsoleChannelConfig

    def __init__(self, *errors: Exception, db: Database | None = None) -> None:
        self.errors = list(errors)
        self.sent: list[OutgoingNotification] = []
        self.db = db
        self.in_flight = 0
        self.most_in_flight = 0
        self.connections_during_send: set[int] = set()

    async def send(self, delivery: OutgoingNotification) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.db is not None:
            # Nothing may hold a connection (and so a transaction) across network I/O.
            self.connections_during_send.add(self.db.engine.pool.checkedout())  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.sent.append(delivery)
        if self.errors:
            raise self.errors.pop(0)


def _enqueue(db: Database, clock: FakeClock, count: int = 1, **extra: object) -> None:
    with transaction(db.session) as session:
        for i in range(count):
            outbox.enqueue(
                session,
                channel=str(extra.get("channel", "ops")),
                kind="console",
                message=extra.get("message", Message(title=f"m{i}").to_dict()),  # type: ignore[arg-type]
                idempotency_key=f"key-{i}",
                now=clock.now(),
                max_attempts=int(extra.get("max_attempts", 12)),  # type: ignore[call-overload]
            )


def _rows(db: Database) -> list[Notification]:
    with db.session() as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
        session.expunge_all()
        return rows


def _dispatcher(db: Database, clock: FakeClock, transport: Transport, **kw: object) -> Dispatcher:
    return Dispatcher(db, clock, {"ops": transport}, "w1", **kw)  # type: ignore[arg-type]


async def test_retries_back_off_exponentially_and_the_last_attempt_parks_it_dead(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock, max_attempts=4)
    transport = ScriptedTransport(*[DeliveryError("HTTP 502", retryable=True)] * 4)
    dispatcher = _dispatcher(db, clock, transport, backoff_base=timedelta(seconds=5))

    delays = []
    for _ in range(3):
        [result] = await dispatcher.run_once()
        assert result.status == "pending"
        delays.append(_rows(db)[0].next_attempt_at - clock.now())
        clock.advance(delays[-1])
    assert delays == [timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    [result] = await dispatcher.run_once()
    assert (result.status, result.error) == ("dead", "HTTP 502")
    assert [d.attempt for d in transport.sent] == [1, 2, 3, 4]


async def test_a_removed_channel_and_an_unreadable_message_are_parked_dead(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock, channel="renamed-away")
    transport = ScriptedTransport()
    [result] = await _dispatcher(db, clock, transport).run_once()
    assert result.status == "dead"
    assert 'channel "renamed-away" is not configured' in (result.error or "")

    with transaction(db.session) as session:
        outbox.enqueue(
            session, channel="ops", kind="console", message={"text": "no title"},
            idempotency_key="bad", now=clock.now(),
        )  # fmt: skip
    [result] = await _dispatcher(db, clock, transport).run_once()
    assert (result.status, result.error) == ("dead", "unreadable message: message has no title")
    assert transport.sent == []


async def test_a_crashing_transport_is_retried_not_parked(db: Database, clock: FakeClock) -> None:
    _enqueue(db, clock)
    transport = ScriptedTransport(RuntimeError("bug in a transport"))
    [result] = await _dispatcher(db, clock, transport).run_once()
    assert (result.status, result.error) == ("pending", "RuntimeError: bug in a transport")


async def test_sends_are_concurrent_but_bounded(db: Database, clock: FakeClock) -> None:
    _enqueue(db, clock, count=20)
    transport = ScriptedTransport()
    results = await _dispatcher(db, clock, transport, concurrency=4).run_once()

    assert [r.status for r in results] == ["delivered"] * 20
    assert transport.most_in_flight == 4


async def test_no_connection_or_transaction_is_held_while_sending(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock)
    transport = ScriptedTransport(db=db)
    [result] = await _dispatcher(db, clock, transport).run_once()
    assert result.status == "delivered"
    assert transport.connections_during_send == {0}


async def test_an_outcome_is_not_recorded_once_another_worker_owns_the_claim(
    db: Database, clock: FakeClock
) -> None:
    _enqueue(db, clock)
    lease = timedelta(seconds=60)

    class SlowPastTheLease(ScriptedTransport):
        async def send(self, delivery: OutgoingNotification) -> None:
            # This worker stalls; its lease expires and a second worker takes over.
            clock.advance(lease + timedelta(seconds=1))
            [taken] = outbox.claim(db, worker_id="w2", now=clock.now(), lease=lease, limit=1)
            assert taken.id == delivery.notification_id

    [result] = await _dispatcher(db, clock, SlowPastTheLease(), lease=lease).run_once()
    assert result.status == "lost"
    [row] = _rows(db)
    assert (row.status, row.lease_owner) == ("sending", "w2")
