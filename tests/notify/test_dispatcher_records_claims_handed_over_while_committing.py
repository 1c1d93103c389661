"""Claims handed over while their transaction commits: sent at once, recorded only
once the commit is known.  If it rolled back, nothing is recorded (the rows do not
exist); claims cancelled meanwhile are handed back only after the commit."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Notification
from opsbook.notify import Dispatcher, Message, OutgoingNotification, Transport
from opsbook.notify.console.config import ConsoleChannelConfig

pytestmark = pytest.mark.anyio

LEASE = timedelta(seconds=60)


class Records(Transport):
    """Sends at once (``hang-*`` keys: never), noting each key and the rows visible then."""

    kind = "console"
    config_model = ConsoleChannelConfig

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sent: list[str] = []
        self.visible_at_send: list[int] = []
        self.hanging = asyncio.Event()

    async def send(self, delivery: OutgoingNotification) -> None:
        self.visible_at_send.append(len(_rows(self.db)))
        if delivery.idempotency_key.startswith("hang-"):
            self.hanging.set()
            await asyncio.Event().wait()
        self.sent.append(delivery.idempotency_key)


def _rows(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.read_session() as session:
        return {
            row.idempotency_key: (row.status, row.lease_owner)
            for row in session.scalars(select(Notification))
        }


class Committing:
    """An open transaction holding claimed rows, as intake's is while it commits."""

    def __init__(self, db: Database, clock: FakeClock, keys: list[str]) -> None:
        self.connection = db.engine.connect()
        dbapi = self.connection.connection.dbapi_connection
        if db.dialect == "sqlite":
            dbapi.execute("BEGIN IMMEDIATE")
        self.dbapi = dbapi
        self.claimed = outbox.enqueue_claimed(
            dbapi,
            dialect=db.dialect,
            rows=[
                {
                    "channel": "ops",
                    "kind": "console",
                    "idempotency_key": key,
                    "message": Message(title=key).to_dict(),
                }
                for key in keys
            ],
            now=clock.now(),
            worker_id="worker-a",
            lease=LEASE,
        )

    def end(self, *, commit: bool) -> None:
        if commit:
            self.dbapi.commit()
        else:
            self.dbapi.rollback()
        self.connection.close()


def _hand_over(
    db: Database, clock: FakeClock, keys: list[str]
) -> tuple[Committing, Records, asyncio.Future[bool], asyncio.Task[Any]]:
    """Claims of ``keys`` in a transaction still open, handed to a dispatcher."""
    tx = Committing(db, clock, keys)
    transport = Records(db)
    dispatcher = Dispatcher(db, clock, {"ops": transport}, "worker-a", lease=LEASE)
    committed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    return tx, transport, committed, dispatcher.deliver_claimed(tx.claimed, committed=committed)


async def _settled(future: asyncio.Future[bool], value: bool, tx: Committing) -> None:
    await asyncio.sleep(0.05)  # the send has long finished: the record waits for this
    tx.end(commit=value)
    future.set_result(value)


async def test_a_claim_handed_over_while_committing_is_sent_first_and_recorded_after(
    db: Database, clock: FakeClock
) -> None:
    tx, transport, committed, task = _hand_over(db, clock, ["n-1", "n-2"])
    settle = asyncio.ensure_future(_settled(committed, True, tx))
    results = await asyncio.wait_for(task, timeout=10)
    await settle

    assert transport.sent == ["n-1", "n-2"]
    assert transport.visible_at_send == [0, 0]  # sent before the rows were committed
    assert [r.status for r in results] == ["delivered", "delivered"]
    assert _rows(db) == {"n-1": ("delivered", None), "n-2": ("delivered", None)}


async def test_a_claim_whose_transaction_rolled_back_is_sent_and_not_recorded(
    db: Database, clock: FakeClock
) -> None:
    tx, transport, committed, task = _hand_over(db, clock, ["n-1"])
    settle = asyncio.ensure_future(_settled(committed, False, tx))
    [result] = await asyncio.wait_for(task, timeout=10)
    await settle

    assert transport.sent == ["n-1"]
    assert (result.status, result.error) == ("lost", "its transaction rolled back")
    assert _rows(db) == {}
    # Nothing left for a round either.
    assert await Dispatcher(db, clock, {"ops": transport}, "worker-b").run_once() == []


async def test_claims_cancelled_before_their_commit_is_known_are_handed_back_after_it(
    db: Database, clock: FakeClock
) -> None:
    tx, transport, committed, task = _hand_over(db, clock, ["hang-1"])
    await asyncio.wait_for(transport.hanging.wait(), timeout=10)
    task.cancel()  # a shutdown, while the commit is still running
    await asyncio.sleep(0.05)
    assert not task.done()  # it waits for the commit before handing anything back
    tx.end(commit=True)
    committed.set_result(True)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)

    assert _rows(db) == {"hang-1": ("pending", None)}  # handed back: any worker sends it
