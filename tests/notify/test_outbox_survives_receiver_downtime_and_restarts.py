"""The outbox never loses an accepted notification and never sends a delivered one again.

The receiver is a real HTTP server that is first absent (connection refused), then
failing (503), then healthy; dispatchers come and go (a restart, a crash mid-batch).
Every key must reach the receiver, and after delivery no dispatcher may send it again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from notify.servers import Reply, WebhookReceiver
from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import Dispatcher, Message, notify
from opsbook.notify.webhook.config import WebhookChannelConfig
from opsbook.notify.webhook.transport import WebhookTransport

pytestmark = pytest.mark.anyio

N = 50
SECRET = "whsec_outbox_0123456789"
BACKOFF_CAP = timedelta(minutes=2)


def _channel(receiver: WebhookReceiver) -> WebhookChannelConfig:
    return WebhookChannelConfig.model_validate(
        {"name": "hook", "kind": "webhook", "url": receiver.url, "secret": SECRET, "timeout": "5s"}
    )


def _enqueue(db: Database, clock: FakeClock, config: WebhookChannelConfig, keys: list[str]) -> None:
    with transaction(db.session) as session:
        for key in keys:
            notify(
                session,
                channels={config.name: config},
                channel=config.name,
                message=Message(title=f"page {key}", event="incident.triggered"),
                idempotency_key=key,
                now=clock.now(),
            )


def _dispatcher(
    db: Database, clock: FakeClock, transport: WebhookTransport, worker_id: str
) -> Dispatcher:
    return Dispatcher(
        db,
        clock,
        {"hook": transport},
        worker_id,
        batch_size=20,
        concurrency=8,
        backoff_base=timedelta(seconds=5),
        backoff_cap=BACKOFF_CAP,
    )


def _statuses(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    return {status: count for status, count in rows}


async def test_every_message_arrives_exactly_once_across_downtime_and_restart(
    db: Database, clock: FakeClock
) -> None:
    receiver = WebhookReceiver(secret=SECRET, clock=clock)  # not started: port closed
    config = _channel(receiver)
    keys = [f"incident:{i}:triggered" for i in range(N)]
    _enqueue(db, clock, config, keys)
    assert _statuses(db) == {"pending": N}

    transport = WebhookTransport(config)
    dispatcher = _dispatcher(db, clock, transport, "worker-a")
    try:
        # Down: two rounds of refused connections, then one of 503s.
        for _ in range(2):
            results = await dispatcher.drain()
            assert len(results) == N
            assert {r.status for r in results} == {"pending"}
            assert all("connection failed" in (r.error or "") for r in results)
            clock.advance(BACKOFF_CAP)
        receiver.start()
        try:
            receiver.replies = [Reply(503, body="maintenance") for _ in range(N)]
            results = await dispatcher.drain()
            assert [r.status for r in results] == ["pending"] * N
            assert sum(receiver.accepted.values()) == 0
            assert _statuses(db) == {"pending": N}

            # Up: everything goes through once the backoff has passed.
            clock.advance(BACKOFF_CAP)
            results = await dispatcher.drain()
            assert sorted(r.status for r in results) == ["delivered"] * N
            assert set(receiver.accepted) == set(keys)
            assert set(receiver.accepted.values()) == {1}
            assert all(request.signature_ok for request in receiver.requests)
            assert _statuses(db) == {"delivered": N}
            assert await dispatcher.drain() == []
        finally:
            await transport.aclose()

        # Restart: a new process (worker id, transports) hours later sends nothing again.
        clock.advance(timedelta(hours=6))
        restarted = WebhookTransport(config)
        try:
            assert await _dispatcher(db, clock, restarted, "worker-b").drain() == []
        finally:
            await restarted.aclose()
        assert len(receiver.requests) == 2 * N  # N refused-by-503 + N accepted
        assert set(receiver.accepted.values()) == {1}
    finally:
        receiver.stop()


async def test_a_crashed_dispatchers_batch_is_delivered_after_its_lease_expires(
    db: Database, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    receiver.secret = SECRET
    config = _channel(receiver)
    keys = [f"alert:{i}:fired" for i in range(N)]
    _enqueue(db, clock, config, keys)
    lease = timedelta(seconds=60)

    # A dispatcher claims a batch, then dies before sending or recording anything.
    crashed = outbox.claim(db, worker_id="crashed", now=clock.now(), lease=lease, limit=30)
    assert len(crashed) == 30

    transport = WebhookTransport(config)
    try:
        survivor = _dispatcher(db, clock, transport, "survivor")
        first = await survivor.drain()
        assert len(first) == N - 30  # the crashed claims are still leased
        clock.advance(lease + timedelta(seconds=1))
        second = await survivor.drain()
        assert sorted(r.id for r in second) == sorted(d.id for d in crashed)
        assert {r.status for r in first + second} == {"delivered"}
    finally:
        await transport.aclose()

    assert set(receiver.accepted) == set(keys)
    assert min(receiver.accepted.values()) >= 1
    assert _statuses(db) == {"delivered": N}
    # The dead worker cannot overwrite what the survivor recorded.
    assert not outbox.mark_delivered(db, crashed[0], worker_id="crashed", now=clock.now())
