"""Helpers for the rules tests: a recording alert sink, data writers, a job loop.

The sink is a test double of the alert pipeline's interface (``AlertSink``), not of our
database: it stores what it receives in a table of its own, in the caller's
transaction, so an alert survives exactly when the rule state that caused it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput, AlertSink
from opsbook.alerts.rules.jobs import register_rule_jobs, schedule_rule_jobs
from opsbook.checks.result import CheckResult
from opsbook.checks.service import record_results
from opsbook.config import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, UTCDateTime
from opsbook.core.jobs import JobRegistry, JobRunner
from opsbook.metrics.store import Sample, write_samples

_metadata = MetaData()
received_alerts = Table(
    "test_received_alerts",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("starts_at", UTCDateTime),
    Column("ends_at", UTCDateTime),
    Column("source", String(32), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Received:
    at: datetime
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    source: str

    @property
    def resolved(self) -> bool:
        return self.ends_at is not None and self.ends_at <= self.at


class RecordingSink:
    """An ``AlertSink`` that writes every alert to ``test_received_alerts``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        _metadata.create_all(db.engine)
        with db.engine.begin() as connection:
            connection.execute(delete(received_alerts))

    def __call__(self, session: Session, *, alerts: Sequence[AlertInput], now: datetime) -> None:
        session.execute(
            insert(received_alerts),
            [
                {
                    "received_at": now,
                    "labels": dict(a.labels),
                    "annotations": dict(a.annotations),
                    "starts_at": a.starts_at,
                    "ends_at": a.ends_at,
                    "source": a.source,
                }
                for a in alerts
            ],
        )

    def received(self, alertname: str | None = None) -> list[Received]:
        with self.db.read_session() as session:
            rows = session.execute(select(received_alerts).order_by(received_alerts.c.id)).all()
        found = [
            Received(r.received_at, r.labels, r.annotations, r.starts_at, r.ends_at, r.source)
            for r in rows
        ]
        return [a for a in found if alertname is None or a.labels.get("alertname") == alertname]


@dataclass
class RuleLoop:
    """Rule evaluation jobs on a real database under a fake clock."""

    db: Database
    clock: FakeClock
    config: OpsbookConfig
    sink: RecordingSink
    # What the jobs call instead of ``sink`` (say, one that fails, then records).
    deliver: AlertSink | None = None

    def __post_init__(self) -> None:
        registry = JobRegistry()
        register_rule_jobs(registry, config=lambda: self.config, sink=self.deliver or self.sink)
        self.runner = JobRunner(self.db, registry, self.clock, worker_id="test-worker")
        with self.db.session() as session, session.begin():
            schedule_rule_jobs(session, rules=self.config.rules, now=self.clock.now())

    def run_for(
        self,
        duration: timedelta,
        each: Callable[[datetime], None] | None = None,
        step: timedelta = timedelta(minutes=1),
    ) -> None:
        """Advance the clock ``step`` at a time for ``duration``, running due evaluations.

        ``each(now)`` writes that step's data first, as the world would have meanwhile.
        """
        end = self.clock.now() + duration
        while self.clock.now() < end:
            now = self.clock.advance(step)
            if each is not None:
                each(now)
            self.runner.run_until_idle()


@dataclass
class Counter:
    """A counter series that goes up by ``per_minute``, pushed every 15 s of each minute."""

    db: Database
    name: str
    labels: dict[str, str]
    per_minute: float
    value: float = 0.0

    def __call__(self, now: datetime) -> None:
        samples = []
        for quarter in (3, 2, 1, 0):
            self.value += self.per_minute / 4
            samples.append(
                (self.name, self.labels, self.value, now - quarter * timedelta(seconds=15))
            )
        with self.db.session() as session, session.begin():
            write_samples(
                session, samples=[Sample(n, lb, v, at) for n, lb, v, at in samples], now=now
            )


def push(
    db: Database, samples: Sequence[tuple[str, Mapping[str, str], float]], at: datetime
) -> None:
    with db.session() as session, session.begin():
        write_samples(
            session, samples=[Sample(n, labels, v, at) for n, labels, v in samples], now=at
        )


def check_result(
    check: str, at: datetime, *, ok: bool = True, seconds: float = 0.1, **extra: Any
) -> CheckResult:
    return CheckResult(
        check=check,
        kind="http",
        started_at=at,
        ok=ok,
        status="up" if ok else "down",
        timings={"total": seconds},
        **extra,
    )


def record_checks(db: Database, results: Sequence[CheckResult], now: datetime) -> None:
    with db.session() as session, session.begin():
        record_results(session, results=results, now=now)
