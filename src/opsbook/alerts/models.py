"""The alerts domain's tables: alerts, their groups and memberships, and silences.

An ``alerts`` row is one firing episode of an alert: it opens when the alert first
fires and closes (``resolved_at``) when it resolves; a later re-fire is a new row.  The
partial unique index on ``dedup_key`` among open rows is what deduplicates, whichever
process receives the alert.  Silenced and inhibited alerts are rows like any other:
muting is decided when a group is flushed or an incident would open, never by dropping.
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
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime

_BigId = BigInteger().with_variant(Integer(), "sqlite")
_OPEN = text("resolved_at IS NULL")
_RESOLVED = text("resolved_at IS NOT NULL")
_LINKED = text("incident_key IS NOT NULL")


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    # Equal for repeats of one alert: the label set's key, or a source's own key
    # (``pagerduty:<integration>:<dedup_key>``).
    dedup_key: Mapped[str] = mapped_column(String(600))
    source: Mapped[str] = mapped_column(String(100))
    alertname: Mapped[str] = mapped_column(String(300), default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Unset: firing until told otherwise; in the past: resolved as of then.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    # How many times the alert was sent again while open (Prometheus re-sends every minute).
    refreshes: Mapped[int] = mapped_column(Integer, default=0)
    # What a source says beyond labels and annotations (PagerDuty's custom_details, links).
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The key the alert is linked to incidents by (its Alertmanager fingerprint, or the
    # source's own dedup key); set when a route first hands it to an incident.
    incident_key: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_alerts_open_ends_at", "ends_at", sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_alerts_open_alertname", "alertname", sqlite_where=_OPEN, postgresql_where=_OPEN),
        # Partial: open alerts (the many) are in neither, so intake writes two fewer indexes.
        Index(
            "ix_alerts_resolved_at",
            "resolved_at",
            sqlite_where=_RESOLVED,
            postgresql_where=_RESOLVED,
        ),
        Index(
            "ix_alerts_incident_key", "incident_key", sqlite_where=_LINKED, postgresql_where=_LINKED
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertGroup(Base):
    """Alerts a route treats together: one notification timeline, or one incident.

    ``kind`` is ``notify`` (Alertmanager's aggregation group: ``next_flush_at`` is the
    pending flush and ``repeat_at`` the next repeat, durable timers the flusher serves)
    or ``incident`` (``incident_id`` is the incident its alerts join).
    """

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    route_id: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # notify groups
    active: Mapped[bool] = mapped_column(default=False)
    next_flush_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When an unchanged group is due to be notified again (repeat_interval).
    repeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_flush_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notify_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Firing alerts the last notification carried (0: it announced their resolution).
    last_firing: Mapped[int] = mapped_column(Integer, default=0)
    # incident groups
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    incident_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertGroupMember(Base):
    """An alert in a notify group: ``new`` until a notification carried it (or while it
    is muted), then ``notified``; once it resolves, ``resolved`` (or ``gone`` if no
    notification ever carried it) until the group's next flush deletes it."""

    __tablename__ = "alert_group_members"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("alert_groups.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10))
    sort_key: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_alert_group_members_group", "group_id", "state", "sort_key"),)


class Silence(Base):
    """Alertmanager's silence: matchers, a time range, who and why; ids are UUIDs."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
