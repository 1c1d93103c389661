"""Shutdown mid-round: what was sent is recorded, what was not is handed back at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import Dispatcher, Message, OutgoingNotification, Transport
from opsbook.notify.console.config import ConsoleChannelConfig

pytestmark = pytest.mark.anyio


class HangsOnSlowKeys(Transport):
    """Sends ``fast-*`` at once and hangs on ``slow-*`` (a receiver that never answers)."""

    kind = "console"
    config_model = ConsoleChannelConfig

    def __init__(self, slow_count: int) -> None:
        self.sent: list[str] = []
        self.slow_started = 0
        self.all_slow_started = asyncio.Event()
        self.slow_count = slow_count

    async def send(self, delivery: OutgoingNotification) -> None:
        if delivery.idempotency_key.startswith("slow-"):
            self.slow_started += 1
            if self.slow_started == self.slow_count:
                self.all_slow_started.set()
            await asyncio.Event().wait()
        self.sent.append(delivery.idempotency_key)


def _rows(db: Database) -> dict[str, Notification]:
    with db.session() as session:
        rows = {row.idempotency_key: row for row in session.scalars(select(Notification))}
        session.expunge_all()
        return rows


async def test_cancelling_a_round_releases_the_unsent_and_records_the_sent(
    db: Database, clock: FakeClock
) -> None:
    keys = ["fast-1", "fast-2", "slow-1", "slow-2", "slow-3"]
    with transaction(db.session) as session:
        for key in keys:
            outbox.enqueue(
                session,
                channel="ops",
                kind="console",
                message=Message(title=key).to_dict(),
                idempotency_key=key,
                now=clock.now(),
            )
    transport = HangsOnSlowKeys(slow_count=3)
    dispatcher = Dispatcher(db, clock, {"ops": transport}, "stopping-worker")

    round_task = asyncio.create_task(dispatcher.run_once())
    await asyncio.wait_for(transport.all_slow_started.wait(), timeout=10)
    round_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_task

    # Sent before the cancellation: recorded before the round gave the cancellation back.
    rows = _rows(db)
    assert {key: rows[key].status for key in keys} == {
        "fast-1": "delivered",
        "fast-2": "delivered",
        "slow-1": "pending",
        "slow-2": "pending",
        "slow-3": "pending",
    }
    for key in ("slow-1", "slow-2", "slow-3"):
        # Handed back as if never claimed: due now, no owner, the attempt not counted.
        assert (rows[key].attempts, rows[key].lease_owner) == (0, None)
        assert rows[key].next_attempt_at == clock.now()

    # Another worker takes them at once, without waiting for a lease to expire.
    successor_keys = []

    class Sends(Transport):
        kind = "console"
        config_model = ConsoleChannelConfig

        async def send(self, delivery: OutgoingNotification) -> None:
            successor_keys.append(delivery.idempotency_key)

    results = await Dispatcher(db, clock, {"ops": Sends()}, "next-worker").run_once()
    assert sorted(successor_keys) == ["slow-1", "slow-2", "slow-3"]
    assert {r.status for r in results} == {"delivered"}
    clock.advance(timedelta(hours=1))
    assert await Dispatcher(db, clock, {"ops": Sends()}, "third").run_once() == []


async def test_cancelling_while_claiming_hands_the_claim_back(
    db: Database, clock: FakeClock
) -> None:
    with transaction(db.session) as session:
        for key in ("slow-1", "slow-2"):
            outbox.enqueue(
                session,
                channel="ops",
                kind="console",
                message=Message(title=key).to_dict(),
                idempotency_key=key,
                now=clock.now(),
            )
    dispatcher = Dispatcher(db, clock, {"ops": HangsOnSlowKeys(slow_count=2)}, "w1")
    round_task = asyncio.create_task(dispatcher.run_once())
    await asyncio.sleep(0)  # the round is now waiting for its claim to commit
    round_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_task

    rows = _rows(db)
    assert {(r.status, r.attempts, r.lease_owner) for r in rows.values()} == {("pending", 0, None)}
