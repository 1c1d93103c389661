"""An incident's timeline says what was delivered, and what could not be, not only queued."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from incidents_support import open_one
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.logging import register_secret
from opsbook.core.models import Notification
from opsbook.incidents import timeline
from opsbook.incidents.deliveries import report_delivery
from opsbook.notify import DeliveryError, Dispatcher, Message, OutgoingNotification, Transport
from opsbook.notify.console.config import ConsoleChannelConfig

pytestmark = pytest.mark.anyio
HOOK_TOKEN = "hook-token-4f1c9a7e2b"


class Receiver(Transport):
    """Accepts everything, or refuses everything with ``error``."""

    kind = "console"
    config_model = ConsoleChannelConfig

    def __init__(self, error: DeliveryError | None = None) -> None:
        self.error = error
        self.sent: list[OutgoingNotification] = []

    async def send(self, delivery: OutgoingNotification) -> None:
        self.sent.append(delivery)
        if self.error is not None:
            raise self.error


def _dispatcher(
    db: Database, clock: FakeClock, transport: Transport, **kwargs: object
) -> Dispatcher:
    return Dispatcher(
        db,
        clock,
        {"incidents": transport},
        "worker-1",
        report=report_delivery,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_delivered_notification_is_written_to_its_incident(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P0")
    receiver = Receiver()
    clock.advance(timedelta(seconds=2))
    results = await _dispatcher(db, clock, receiver).drain()
    assert [r.status for r in results] == ["delivered"]
    with db.session() as session:
        delivered = timeline(session, incident_id=incident.id, kinds={"notification_delivered"})
    assert len(delivered) == 1
    entry = delivered[0]
    assert entry.at == clock.now()
    assert entry.body == f"[P0] #{incident.number} Checkout is failing delivered to incidents"
    assert entry.data == {
        "channel": "incidents",
        "channel_kind": "console",
        "target": None,
        "notification_key": f"incident:{incident.id}:opened:incidents",
        "attempts": 1,
    }


async def test_a_notification_given_up_on_is_written_with_why_and_no_secret(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    register_secret(HOOK_TOKEN)
    incident = open_one(db, clock, config, severity="P0")
    refusal = DeliveryError(
        f"POST https://hooks.example.com/{HOOK_TOKEN} answered 404", retryable=False
    )
    results = await _dispatcher(db, clock, Receiver(refusal)).drain()
    assert [r.status for r in results] == ["dead"]
    with db.session() as session:
        failed = timeline(session, incident_id=incident.id, kinds={"notification_failed"})
        delivered = timeline(session, incident_id=incident.id, kinds={"notification_delivered"})
    assert delivered == []
    assert len(failed) == 1
    assert HOOK_TOKEN not in failed[0].body
    assert HOOK_TOKEN not in str(failed[0].data)
    assert failed[0].body.endswith(
        "could not be delivered to incidents: POST "
        "https://hooks.example.com/[redacted] answered 404"
    )
    assert failed[0].data["attempts"] == 1


async def test_a_retry_in_between_is_not_written(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P0")
    dispatcher = _dispatcher(db, clock, Receiver(DeliveryError("503", retryable=True)))
    assert [r.status for r in await dispatcher.run_once()] == ["pending"]
    with db.session() as session:
        entries = timeline(
            session,
            incident_id=incident.id,
            kinds={"notification_delivered", "notification_failed"},
        )
    assert entries == []


async def test_notifications_of_no_incident_write_nothing_and_a_failing_report_undoes_nothing(
    db: Database, clock: FakeClock
) -> None:
    reported: list[str | None] = []

    def broken_report(
        session: Session, delivery: outbox.Delivery, status: str, error: str | None, now: datetime
    ) -> None:
        reported.append(delivery.source)
        raise RuntimeError("the record is unavailable")

    with transaction(db.session) as session:
        for key, source in (("a", "incident:999"), ("b", None), ("c", "incident:1000")):
            outbox.enqueue(
                session,
                channel="incidents",
                kind="console",
                message=Message(title=key).to_dict(),
                idempotency_key=key,
                now=clock.now(),
                source=source,
            )
    dispatcher = Dispatcher(db, clock, {"incidents": Receiver()}, "w", report=broken_report)
    results = await dispatcher.drain()
    assert sorted(r.status for r in results) == ["delivered"] * 3
    assert sorted(s for s in reported if s) == ["incident:1000", "incident:999"]
    assert None not in reported  # no source: nothing to report to
    with db.session() as session:
        statuses = session.scalars(select(Notification.status)).all()
    assert statuses == ["delivered"] * 3
