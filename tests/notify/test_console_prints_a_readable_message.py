"""The console channel prints a readable, framed rendering of each notification."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import Dispatcher, Link, Message, notify
from opsbook.notify.console.config import ConsoleChannelConfig
from opsbook.notify.console.transport import ConsoleTransport

pytestmark = pytest.mark.anyio

CONFIG = ConsoleChannelConfig(name="console", kind="console")
MESSAGE = Message(
    title="checkout is failing",
    text="Error rate above 5% for 5 minutes.",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout"},
    links=(Link("Runbook", "https://wiki.example.com/checkout"),),
    event="incident.triggered",
)


async def test_the_dispatcher_prints_the_message_to_the_stream(
    db: Database, clock: FakeClock
) -> None:
    with transaction(db.session) as session:
        notify(
            session,
            channels={"console": CONFIG},
            channel="console",
            message=MESSAGE,
            idempotency_key="incident:7:triggered",
            now=clock.now(),
        )
    stream = io.StringIO()
    transports = {"console": ConsoleTransport(CONFIG, stream=stream)}

    [result] = await Dispatcher(db, clock, transports, "w1").run_once()

    assert result.status == "delivered"
    printed = stream.getvalue()
    assert "2026-01-05 09:00:00Z  console  incident.triggered" in printed
    for line in (
        "[P1] checkout is failing",
        "Error rate above 5% for 5 minutes.",
        "service: checkout",
        "Runbook: https://wiki.example.com/checkout",
        "Open in Opsbook: https://opsbook.example.com/incidents/7",
    ):
        assert line in printed.splitlines()
    with db.session() as session:
        assert session.scalars(select(Notification.status)).one() == "delivered"


async def test_by_default_it_prints_to_standard_output(
    clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from opsbook.notify import OutgoingNotification

    outgoing = OutgoingNotification(1, "console", MESSAGE, "k", "oncall:primary", 1, clock.now())
    await ConsoleTransport(CONFIG).send(outgoing)
    out = capsys.readouterr().out
    assert "→ oncall:primary" in out
    assert "[P1] checkout is failing" in out
