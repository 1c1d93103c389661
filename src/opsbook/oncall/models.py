"""On-call tables: overrides, each incident's escalation, round-robin turns, link uses.

Schedules, rotations and policies live in opsbook.yaml; the database holds what people
change at run time (overrides) and what happened (escalations, link uses).  Pages are
recorded as outbox rows (``notifications``) and ``paged`` timeline entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime


class Override(Base):
    """``person`` takes ``layer`` of ``schedule`` from ``starts_at`` to ``ends_at``.

    Removing one stamps ``removed_at``, so who covered when stays answerable.
    """

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    layer: Mapped[str] = mapped_column(String(16))
    person: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (Index("ix_oncall_overrides_schedule_ends_at", "schedule", "ends_at"),)


class Escalation(Base):
    """An incident's paging escalation: the policy as it was when the incident started.

    ``snapshot`` holds the levels, delays, ``repeat`` and re-trigger delay, so editing the
    policy never changes an escalation under way.  ``next_step_key`` names the one
    pending step job (``oncall.escalation_step``), due at ``next_step_at``; the auditor
    checks that it exists.  ``run`` grows with each re-trigger after an acknowledgement.
    """

    __tablename__ = "oncall_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    policy: Mapped[str] = mapped_column(String(100))
    schedule: Mapped[str] = mapped_column(String(100))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    run: Mapped[int] = mapped_column(Integer, default=0)
    pass_number: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_step_key: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    repairs: Mapped[int] = mapped_column(Integer, default=0)


class RoundRobinTurn(Base):
    """Whose turn it is next on a ``team: round_robin`` level of a policy."""

    __tablename__ = "oncall_round_robin"

    policy: Mapped[str] = mapped_column(String(100), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_index: Mapped[int] = mapped_column(Integer, default=0)


class LinkUse(Base):
    """A signed page link that was used: the same link never acts twice."""

    __tablename__ = "oncall_link_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    person: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))
