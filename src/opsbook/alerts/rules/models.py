"""The rules' tables: the state of each (rule, series), and each rule's last evaluation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime


class RuleSeriesState(Base):
    """Where one series of one rule stands (:mod:`opsbook.alerts.rules.state`).

    ``series_key`` is a fingerprint of ``series_labels`` (the expression's labels);
    ``alert_labels`` are the labels last sent to the pipeline, so a rule whose labels
    change on reload resolves the old alert and fires the new one.
    """

    __tablename__ = "rule_states"

    rule_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    series_labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    alert_labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    value: Mapped[float | None] = mapped_column(Float)
    active_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleHealth(Base):
    """A rule's last evaluation: when, how long, how many series, and its error if any."""

    __tablename__ = "rule_health"

    rule_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition: Mapped[str] = mapped_column(String(32))
    last_evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    series: Mapped[int] = mapped_column(Integer)
    active: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
