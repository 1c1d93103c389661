"""The incidents domain's tables: incidents, their roles, timeline, alerts and checklist.

The timeline (``incident_events``) is the record: it is only ever appended to, and every
later feature (postmortems, reports, MTTA/MTTR) reads its facts from it and from the
timestamps on ``incidents``.  Roles and checklist rows hold the *current* state; how
they got there is in the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; the timeline grows without bound.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Incident(Base):
    """What people work on.  ``version`` guards against lost updates (optimistic locking)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    severity: Mapped[str] = mapped_column(String(2), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    channel_name: Mapped[str] = mapped_column(String(80), unique=True)
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    users_affected: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once, when the respond-within target passes unacknowledged; reports count these.
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Escalation: the last level notified, within the current cycle.  A reopen starts
    # a new cycle (new job keys, since a cancelled job's key cannot be scheduled again).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_cycle: Mapped[int] = mapped_column(Integer, default=0)
    escalation_since: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    # We bump ``version`` ourselves (see lifecycle.save) so that every state change
    # counts, even one that only touches other tables (a role); SQLAlchemy still guards
    # each UPDATE with ``WHERE version = <the version read>``.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    @property
    def is_open(self) -> bool:
        return self.status not in ("resolved", "closed")


class IncidentRole(Base):
    """A person holding a role now: commander, communications, scribe or responder."""

    __tablename__ = "incident_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    person: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("incident_id", "role", "person"),)


class IncidentEvent(Base):
    """One timeline entry.  Append-only: a correction is a new entry naming the old one."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Only "internal" today; the status page will publish "public" entries later.
    visibility: Mapped[str] = mapped_column(String(16), default="internal")

    __table_args__ = (Index("ix_incident_events_incident_id_id", "incident_id", "id"),)


class IncidentAlert(Base):
    """A link from an incident to an alert's dedup key; the alerts domain owns the alert."""

    __tablename__ = "incident_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    alert_key: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(100))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("incident_id", "alert_key"),)


class IncidentChecklistItem(Base):
    """One response-checklist item, copied from the severity policy when the incident opens."""

    __tablename__ = "incident_checklist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("incident_id", "position"),)
