"""A notification is written in its cause's transaction: both commit or neither does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.jobs import schedule
from opsbook.core.models import Job, Notification
from opsbook.notify import Message, UnknownChannel, notify
from opsbook.notify.console.config import ConsoleChannelConfig
from opsbook.notify.email.config import EmailChannelConfig

CHANNELS = {
    "console": ConsoleChannelConfig(name="console", kind="console"),
    "oncall-mail": EmailChannelConfig.model_validate(
        {
            "name": "oncall-mail",
            "kind": "email",
            "to": ["ann@example.com"],
            "from": "opsbook@example.com",
            "smtp": {"host": "smtp.example.com"},
        }
    ),
}
MESSAGE = Message(title="checkout is failing", event="incident.triggered")


class CauseFailed(Exception):
    pass


def _count(db: Database, model: type[Job] | type[Notification]) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _trigger_then_fail(db: Database, clock: FakeClock) -> None:
    with transaction(db.session) as session:
        # The cause: a state change in the same transaction (a job stands in for it).
        schedule(
            session, kind="incident.ack_timeout", key="ack:1", run_at=clock.now(), now=clock.now()
        )
        assert notify(
            session,
            channels=CHANNELS,
            channel="console",
            message=MESSAGE,
            idempotency_key="incident:1:triggered",
            now=clock.now(),
        )
        raise CauseFailed


def test_a_rolled_back_cause_leaves_no_notification(db: Database, clock: FakeClock) -> None:
    with pytest.raises(CauseFailed):
        _trigger_then_fail(db, clock)
    assert _count(db, Job) == 0
    assert _count(db, Notification) == 0


def test_a_repeated_idempotency_key_writes_one_row(db: Database, clock: FakeClock) -> None:
    written = []
    for _ in range(3):
        with transaction(db.session) as session:
            written.append(
                notify(
                    session,
                    channels=CHANNELS,
                    channel="oncall-mail",
                    message=MESSAGE,
                    idempotency_key="incident:1:triggered:oncall-mail",
                    now=clock.now(),
                    target="bob@example.com",
                    source="incidents",
                )
            )
    assert written == [True, False, False]
    with db.session() as session:
        row = session.scalars(select(Notification)).one()
    assert (row.channel, row.kind, row.target, row.source) == (
        "oncall-mail",
        "email",
        "bob@example.com",
        "incidents",
    )
    assert Message.from_dict(row.message) == MESSAGE


def test_an_unknown_channel_or_bad_target_is_a_clear_error_that_writes_nothing(
    db: Database, clock: FakeClock
) -> None:
    with transaction(db.session) as session:
        with pytest.raises(UnknownChannel, match=r'no channel named "pager".*console, oncall-mail'):
            notify(
                session,
                channels=CHANNELS,
                channel="pager",
                message=MESSAGE,
                idempotency_key="k1",
                now=clock.now(),
            )
        with pytest.raises(ValueError, match="one address like"):
            notify(
                session,
                channels=CHANNELS,
                channel="oncall-mail",
                message=MESSAGE,
                idempotency_key="k2",
                now=clock.now(),
                target="oncall:primary",
            )
        with pytest.raises(ValueError, match="1 to 255 characters"):
            notify(
                session,
                channels=CHANNELS,
                channel="console",
                message=MESSAGE,
                idempotency_key="k" * 256,
                now=clock.now(),
            )
    assert _count(db, Notification) == 0


def test_attempts_and_a_later_delivery_time_are_kept(db: Database, clock: FakeClock) -> None:
    later = clock.now() + timedelta(hours=1)
    with transaction(db.session) as session:
        notify(
            session,
            channels=CHANNELS,
            channel="console",
            message=MESSAGE,
            idempotency_key="postmortem:7:reminder",
            now=clock.now(),
            max_attempts=3,
            deliver_at=later,
        )
    with db.session() as session:
        row = session.scalars(select(Notification)).one()
    assert (row.max_attempts, row.next_attempt_at) == (3, later)
