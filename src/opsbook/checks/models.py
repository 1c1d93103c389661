"""The checks domain's tables: raw results, rollups, states, transitions, heartbeats, leases.

Raw results are kept days (``keep_raw``); rollups, written incrementally as results
arrive, are what uptime and latency are computed from, and are kept 400 days.  See
docs/checks-storage.md for the sizes and the maths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.core.db import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL needs 64 bits here
# (10,000 checks a minute is 5 billion rows a year).
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class CheckResultRecord(Base):
    """One run of one check, as it came back (observed values trimmed to a cap)."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    check_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON)
    observed: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdicts: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_check_results_check_started", "check_name", "started_at"),)


class CheckRollup(Base):
    """Per-minute or per-day aggregate of one check's results, merged as results arrive.

    ``latency_hist`` is a sparse log-bucket histogram (see :mod:`opsbook.checks.latency`)
    from which the stored p50/p95/p99 are derived.  The ``*_minutes`` columns classify
    minutes (down, observed, unknown): 0 or 1 on a minute row, and on a day row the
    count of that day's minute rows in each class, which is what lets uptime use a day
    row once the day's minute rows are pruned.
    """

    __tablename__ = "check_rollups"

    check_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    resolution: Mapped[str] = mapped_column(String(8), primary_key=True)  # minute | day
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_hist: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    p50_ms: Mapped[float | None] = mapped_column(Float)
    p95_ms: Mapped[float | None] = mapped_column(Float)
    p99_ms: Mapped[float | None] = mapped_column(Float)
    down_minutes: Mapped[int] = mapped_column(Integer, default=0)
    observed_minutes: Mapped[int] = mapped_column(Integer, default=0)
    unknown_minutes: Mapped[int] = mapped_column(Integer, default=0)


class CheckStateRecord(Base):
    """Where one check stands now: the flap-control state and its last result."""

    __tablename__ = "check_states"

    check_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8), default="unknown")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_successes: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_status: Mapped[str | None] = mapped_column(String(8))
    last_reason_code: Mapped[str | None] = mapped_column(String(32))
    last_reason_message: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[float | None] = mapped_column(Float)


class CheckTransitionRecord(Base):
    """A check's status changed: what the alerts domain consumes."""

    __tablename__ = "check_transitions"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    check_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_status: Mapped[str] = mapped_column(String(8))
    to_status: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_check_transitions_check_at", "check_name", "at"),
        Index("ix_check_transitions_at", "at"),
    )


class HeartbeatRecord(Base):
    """The last ping of a heartbeat check; ``watching_since`` starts the clock before one."""

    __tablename__ = "heartbeats"

    check_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    watching_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pings: Mapped[int] = mapped_column(Integer, default=0)
    last_source: Mapped[str | None] = mapped_column(String(64))


class CheckLease(Base):
    """Which scheduler runs a check; ``owner`` NULL or ``expires_at`` past means free."""

    __tablename__ = "check_leases"

    check_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_check_leases_owner", "owner"),)


class CheckScheduler(Base):
    """A running scheduler announces itself, so the others know how many share the checks."""

    __tablename__ = "check_schedulers"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
