"""The metrics store's tables: series, raw samples, 5-minute rollups, scrape slots.

Sample and bucket times are Unix milliseconds (``BigInteger``), as Prometheus keeps
them: a sample row is three numbers, and rate arithmetic reads them without parsing
datetimes (SQLite has no datetime type; its text form costs more than the row).  The
bookkeeping columns (``created_at``, scrape times) are ordinary UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class MetricSeries(Base):
    """One metric name with one label set; ``fingerprint`` identifies it."""

    __tablename__ = "metric_series"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(32), unique=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_metric_series_name", "name"),)


class MetricSample(Base):
    """One raw sample; the same (series, time) written twice keeps the last value."""

    __tablename__ = "metric_samples"

    series_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)

    # No index on at_ms alone: every read names its series, and with one PostgreSQL's
    # planner, whose statistics never cover the newest samples, picks it for "the last
    # five minutes" and reads every series' samples (40x slower in bench/rules_metrics.py).


class MetricRollup(Base):
    """Five minutes of one series: enough for sum/avg/min/max/count/last and counter increase.

    ``increase`` adds the differences between consecutive samples inside the bucket,
    a drop counting as a counter reset (the new value is the increase); the step from
    one bucket's ``last`` to the next one's ``first`` is added when a window is read.
    """

    __tablename__ = "metric_rollups"

    series_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    first: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)
    first_ms: Mapped[int] = mapped_column(BigInteger)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    increase: Mapped[float] = mapped_column(Float)


class MetricRollupMark(Base):
    """How far rollups have been written: every bucket before ``until_ms`` is done."""

    __tablename__ = "metric_rollup_marks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    until_ms: Mapped[int] = mapped_column(BigInteger)


class ScrapeTargetState(Base):
    """One scrape target: the last slot claimed (so one worker scrapes it) and how it went."""

    __tablename__ = "metric_scrape_targets"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_slot_ms: Mapped[int | None] = mapped_column(BigInteger)
    owner: Mapped[str | None] = mapped_column(String(100))
    last_scrape_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_duration_ms: Mapped[float | None] = mapped_column(Float)
    last_samples: Mapped[int | None] = mapped_column(Integer)
    up: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(Text)
