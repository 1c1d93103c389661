"""Small queries the incidents tests share."""

from __future__ import annotations

from sqlalchemy import select

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.incidents import Incident, IncidentEvent, open_incident

# People in two time zones (and one in the service's), for owners and pages.
PEOPLE_CONFIG = """\
service: {name: shop, timezone: Europe/Berlin}
people:
  - {id: alice, name: Alice, email: alice@example.com, timezone: Europe/London}
  - {id: bob, name: Bob, email: bob@example.com, timezone: America/New_York}
  - {id: carol, name: Carol, email: carol@example.com}
channels:
  - {name: incidents, kind: console}
  - {name: leads, kind: console}
severities:
  P1:
    escalate_to: [channel:leads]
"""


def open_one(
    db: Database,
    clock: FakeClock,
    config: OpsbookConfig,
    *,
    severity: str = "P1",
    title: str = "Checkout is failing",
) -> Incident:
    with db.session() as session, session.begin():
        return open_incident(
            session, config=config, title=title, severity=severity, by="alice", now=clock.now()
        )


def jobs_by_key(db: Database) -> dict[str, Job]:
    with db.session() as session:
        return {job.key: job for job in session.scalars(select(Job))}


def outbox_keys(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(Notification.idempotency_key)))


def kinds(db: Database, incident_id: int) -> list[str]:
    with db.session() as session:
        stmt = (
            select(IncidentEvent.kind)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id)
        )
        return list(session.scalars(stmt))
