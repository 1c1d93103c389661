"""The status page's tables: public incidents and their updates, component overrides,
scheduled maintenances, subscribers, and the snapshot the public page is served from.

Public incidents are a separate record from internal incidents: what customers read is
written for them (``status_incident_updates``) and never copied from the internal
timeline.  ``status_snapshot`` holds one row: the rendered public documents, their
version, and the counter every status change bumps so that each process can tell,
with one cheap read, whether what it serves is still current.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime


class StatusIncident(Base):
    """An incident as the public sees it; ``published_at`` None means a draft."""

    __tablename__ = "status_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), index=True)
    impact: Mapped[str] = mapped_column(String(16))
    # Component ids this incident affects (the latest update's statuses are in updates).
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusIncidentUpdate(Base):
    """One public update: a state, a message, and the components' statuses it declares."""

    __tablename__ = "status_incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status_incident_id: Mapped[int] = mapped_column(
        ForeignKey("status_incidents.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # {component id: component status} as of this update.
    component_statuses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_status_incident_updates_incident_id", "status_incident_id", "id"),)


class ComponentOverride(Base):
    """A person's word on a component's state; it wins over everything derived."""

    __tablename__ = "status_component_overrides"

    component_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Maintenance(Base):
    """A scheduled maintenance window; components in it are ``under_maintenance``."""

    __tablename__ = "status_maintenances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    scheduled_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    impact: Mapped[str] = mapped_column(String(16), default="maintenance")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when it ends early (or is cancelled); otherwise it ends at scheduled_until.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class MaintenanceUpdate(Base):
    __tablename__ = "status_maintenance_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("status_maintenances.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscriber(Base):
    """Someone to tell about new public updates, by email (double opt-in) or webhook.

    ``token`` is the subscriber's own link credential (confirm, unsubscribe); it can do
    nothing else.  ``secret`` signs webhook deliveries.  ``components`` None means all.
    """

    __tablename__ = "status_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255), index=True)
    components: Mapped[list[str] | None] = mapped_column(JSON)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | active | left
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class StatusSnapshot(Base):
    """The one row (id 1) of rendered public documents.

    ``generation`` is bumped by every status change in its own transaction; a snapshot
    records the inputs it was built from in ``fingerprint``.  ``version`` moves when a new
    snapshot is stored, which is all another process polls.  The lease columns let one
    process build at a time.
    """

    __tablename__ = "status_snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str] = mapped_column(String(200), default="")
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # zlib-compressed JSON: {path: [content type, body text]}.
    documents: Mapped[bytes | None] = mapped_column(LargeBinary)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
