"""Paging asks "who is on call" once per step; a burst of steps run in one transaction
works each layer out once, and the answer stays exact: across a handoff, after an
override made in the same transaction, and in the next transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.core.db import Database
from opsbook.oncall.service import add_override, get_schedule, person_at

# Turn 1 of the weekly primary rotation (dev after maya) starts Monday 09:00 in Berlin.
HANDOFF = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)


def _who(session: Session, config: OpsbookConfig, at: datetime) -> str | None:
    schedule = get_schedule(config, "platform")
    return person_at(session, config=config, schedule=schedule, layer="primary", at=at)


def test_one_transaction_answers_right_on_both_sides_of_a_handoff(
    db: Database, config: OpsbookConfig
) -> None:
    with db.session() as session, session.begin():
        before = _who(session, config, HANDOFF - timedelta(minutes=3))
        just_before = _who(session, config, HANDOFF - timedelta(microseconds=1))
        at_handoff = _who(session, config, HANDOFF)
        after = _who(session, config, HANDOFF + timedelta(minutes=3))
        back = _who(session, config, HANDOFF - timedelta(minutes=1))
    assert (before, just_before, at_handoff, after, back) == ("maya", "maya", "dev", "dev", "maya")


def test_an_override_made_in_the_same_transaction_is_seen_at_once(
    db: Database, config: OpsbookConfig
) -> None:
    now = HANDOFF - timedelta(hours=2)
    with db.session() as session, session.begin():
        assert _who(session, config, now) == "maya"
        add_override(
            session,
            config=config,
            schedule="platform",
            person="lucia",
            start=now + timedelta(minutes=1),
            end=now + timedelta(hours=1),
            by="maya",
            now=now,
        )
        assert _who(session, config, now + timedelta(minutes=2)) == "lucia"


def test_the_next_transaction_sees_an_override_another_one_committed(
    db: Database, config: OpsbookConfig
) -> None:
    now = HANDOFF - timedelta(hours=2)
    with db.session() as session:
        with session.begin():
            assert _who(session, config, now) == "maya"
        with db.session() as other, other.begin():
            add_override(
                other,
                config=config,
                schedule="platform",
                person="priya",
                start=now,
                end=now + timedelta(hours=1),
                by="maya",
                now=now,
            )
        with session.begin():
            assert _who(session, config, now + timedelta(seconds=1)) == "priya"
