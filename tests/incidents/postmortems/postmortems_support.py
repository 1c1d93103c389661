"""Helpers the postmortem tests share: an incident worked through to resolved, a draft."""

from __future__ import annotations

from datetime import date, timedelta

from incidents_support import open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents import Incident, acknowledge, set_status
from opsbook.incidents.postmortems.action_items import add_action_item
from opsbook.incidents.postmortems.models import ActionItem, Postmortem
from opsbook.incidents.postmortems.service import draft_postmortem


def work_through(
    db: Database, clock: FakeClock, config: OpsbookConfig, *, severity: str = "P1"
) -> Incident:
    """Open, acknowledge, identify and resolve an incident, a few odd seconds apart."""
    incident = open_one(db, clock, config, severity=severity)
    steps = [
        (timedelta(minutes=3, seconds=17), "acknowledged", ""),
        (timedelta(minutes=9, seconds=4), "identified", "connection pool exhausted"),
        (timedelta(minutes=12, seconds=41), "mitigated", "raised the pool size"),
        (timedelta(minutes=30, seconds=2), "resolved", "error rate back under 1%"),
    ]
    for delay, status, reason in steps:
        clock.advance(delay)
        with db.session() as session, session.begin():
            if status == "acknowledged":
                acknowledge(session, incident_id=incident.id, by="person:alice", now=clock.now())
            else:
                set_status(
                    session,
                    config=config,
                    incident_id=incident.id,
                    to=status,
                    reason=reason,
                    by="person:bob",
                    now=clock.now(),
                )
    return incident


def draft(db: Database, clock: FakeClock, config: OpsbookConfig, incident: Incident) -> Postmortem:
    with db.session() as session, session.begin():
        return draft_postmortem(
            session, config=config, incident_id=incident.id, by="person:alice", now=clock.now()
        )


def add_item(
    db: Database,
    clock: FakeClock,
    config: OpsbookConfig,
    postmortem: Postmortem,
    *,
    title: str = "Alert on pool saturation",
    owner: str = "bob",
    due_on: date = date(2026, 2, 1),
) -> ActionItem:
    with db.session() as session, session.begin():
        return add_action_item(
            session,
            config=config,
            postmortem_id=postmortem.id,
            title=title,
            owner=owner,
            due_on=due_on,
            by="person:alice",
            now=clock.now(),
        )
