"""The on-call tests' configuration and small queries over what paging left behind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.incidents import Incident, IncidentEvent, open_incident
from opsbook.oncall.models import Escalation

SECRET = "test-signing-key-for-links"

# The fake clock starts Monday 2026-01-05 09:00 UTC (10:00 in Berlin): turn 0 of both
# rotations, so maya is primary and lucia secondary.
ONCALL_CONFIG = """\
service: {name: shop, timezone: Europe/Berlin}
settings: {public_url: "http://opsbook.test"}
people:
  - id: maya
    name: Maya Chen
    email: maya@example.com
    phone: "+14155550101"
    contact:
      - {method: email, channel: mail}
      - {method: sms, channel: sms, after: 2m}
  - {id: dev, name: Dev Patel, email: dev@example.com, contact: [&console {method: console,
     channel: console}]}
  - {id: lucia, name: Lucia Romero, email: lucia@example.com, contact: [*console]}
  - {id: priya, name: Priya Raman, email: priya@example.com, contact: [{method: email,
     channel: mail}]}
teams:
  - {name: platform, members: [maya, dev, lucia]}
channels:
  - {name: console, kind: console}
  - name: mail
    kind: email
    to: [oncall@example.com]
    from: opsbook@example.com
    smtp: {host: 127.0.0.1, port: 2525, security: none}
  - name: sms
    kind: sms
    providers:
      - {api_base: "http://127.0.0.1:9", account_sid: AC123, auth_token: t0k, from: "+15550000000"}
oncall:
  schedules:
    - name: platform
      layers:
        primary: [{people: [maya, dev], start: 2026-01-05}]
        secondary: [{people: [lucia, maya], start: 2026-01-05}]
  policies:
    - name: default
      levels:
        - {targets: [oncall:primary], escalate_after: 5m}
        - {targets: [oncall:secondary], escalate_after: 10m}
        - {targets: [person:priya], escalate_after: 15m}
      repeat: 1
  routes:
    - {schedule: platform, policy: default}
"""


def open_one(
    db: Database, clock: FakeClock, config: OpsbookConfig, *, severity: str = "P1"
) -> Incident:
    with db.session() as session, session.begin():
        return open_incident(
            session,
            config=config,
            title="Checkout is failing",
            severity=severity,
            by="alice",
            now=clock.now(),
        )


def paged(db: Database, incident_id: int | None = None) -> list[dict[str, Any]]:
    """The data of every ``paged`` timeline entry, in order."""
    with db.session() as session:
        stmt = select(IncidentEvent).where(IncidentEvent.kind == "paged")
        if incident_id is not None:
            stmt = stmt.where(IncidentEvent.incident_id == incident_id)
        return [dict(e.data, at=e.at) for e in session.scalars(stmt.order_by(IncidentEvent.id))]


def who_was_paged(db: Database, incident_id: int | None = None) -> list[tuple[str, str]]:
    return [(p["person"], p["step"]) for p in paged(db, incident_id)]


def outbox(db: Database) -> list[Notification]:
    with db.session() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def escalation_of(db: Database, incident_id: int) -> Escalation:
    with db.session() as session:
        found = session.scalar(select(Escalation).where(Escalation.incident_id == incident_id))
        assert found is not None
        return found


def jobs_of(db: Database, kind: str) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))
