"""A test's view of the alert pipeline: a runtime on the test database, its jobs, and the
outbox, without a server.  Tests drive time with the fake clock and run due jobs
themselves, so every notification and incident can be counted exactly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from opsbook.alerts import service
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.jobs import schedule_alert_jobs
from opsbook.alerts.models import Alert
from opsbook.config.loader import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobOutcome, JobRunner
from opsbook.core.models import Notification
from opsbook.notify.dispatcher import Dispatcher
from opsbook.notify.registry import build_transports
from opsbook.runtime import Runtime
from opsbook.settings import Settings

# One notify route (the Alertmanager defaults but faster), a critical route that opens
# incidents, PagerDuty and webhook credentials.
ALERTS_CONFIG = """\
service: {name: shop}
people:
  - {id: rita, name: Rita Responder, email: rita@example.com, role: responder}
  - {id: vic, name: Vic Viewer, email: vic@example.com, role: viewer}
channels:
  - {name: console, kind: console}
  - name: am
    kind: alertmanager-webhook
    url: http://127.0.0.1:9/hook
alerts:
  route:
    channels: [am]
    group_by: [alertname, service]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
  pagerduty:
    - {name: datadog, routing_key: samplekeyhere00000000000000000000, service: checkout}
    - {name: other, routing_key: otherkeyhere00000000000000000000}
  webhooks:
    - name: grafana
      token: grafana-token-123
      each: alerts
      labels_from: labels
      annotations_from: annotations
      labels: {source: grafana}
      resolved: '{{ status == "resolved" }}'
      starts_at: '{{ startsAt }}'
      ends_at: '{{ endsAt }}'
      generator_url: '{{ generatorURL }}'
"""


def make_runtime(db: Database, clock: FakeClock, config_text: str, tmp_path: Path) -> Runtime:
    config_file = tmp_path / "opsbook.yaml"
    config_file.write_text(config_text)
    settings = Settings(database_url=db.url, config_file=config_file)
    return Runtime.create(settings, clock=clock, db=db, migrate=False)


class Pipeline:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock: FakeClock = runtime.clock  # type: ignore[assignment]
        with self.db.session() as session, session.begin():
            schedule_alert_jobs(session, now=self.clock.now())  # as a starting worker does

    @property
    def config(self) -> Any:
        return self.runtime.config

    def reconfigure(self, config_text: str) -> None:
        self.runtime.config = load_config_text(config_text)

    def send(self, *alerts: AlertInput) -> service.ReceiveResult:
        with self.db.session() as session, session.begin():
            return service.receive(
                session, config=self.config, alerts=list(alerts), now=self.clock.now()
            )

    def fire(self, ends_in: float | None = None, **labels: str) -> service.ReceiveResult:
        from datetime import timedelta

        now = self.clock.now()
        ends_at = now + timedelta(seconds=ends_in) if ends_in is not None else None
        return self.send(AlertInput(labels=labels, ends_at=ends_at, source="test"))

    def resolve(self, **labels: str) -> service.ReceiveResult:
        return self.send(AlertInput(labels=labels, ends_at=self.clock.now(), source="test"))

    def runner(self, worker_id: str = "worker-1") -> JobRunner:
        return JobRunner(
            db=self.db, registry=self.runtime.jobs, clock=self.clock, worker_id=worker_id
        )

    def run_jobs(self) -> list[JobOutcome]:
        """Run due jobs and flush due groups until nothing is due (what the worker does)."""
        flusher = self.runtime.group_flusher()
        outcomes: list[JobOutcome] = []
        for _ in range(100):
            ran = self.runner().run_until_idle()
            flushed = flusher.run_until_idle()
            outcomes.extend(ran)
            if not ran and not flushed:
                break
        # A retry without an error is a job putting itself back until its time (RetryLater,
        # as the postmortem-due clock does); anything else failed.
        waiting = ("retry", None)
        failed = [o for o in outcomes if o.status != "done" and (o.status, o.error) != waiting]
        assert failed == [], failed
        return outcomes

    def advance(self, seconds: float) -> list[JobOutcome]:
        from datetime import timedelta

        self.clock.advance(timedelta(seconds=seconds))
        return self.run_jobs()

    def notifications(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The outbox, oldest first: each notification's message ``data`` (webhook v4)."""
        with self.db.read_session() as session:
            stmt = select(Notification).order_by(Notification.id)
            if channel is not None:
                stmt = stmt.where(Notification.channel == channel)
            return [dict(row.message.get("data") or row.message) for row in session.scalars(stmt)]

    def notification_keys(self) -> list[str]:
        with self.db.read_session() as session:
            stmt = select(Notification.idempotency_key).order_by(Notification.id)
            return list(session.scalars(stmt))

    def deliver(self) -> None:
        """Send the outbox through the configured channels (real HTTP to local receivers)."""

        async def go() -> None:
            transports = build_transports(self.config.channels)
            try:
                await Dispatcher(self.db, self.clock, transports, "test-dispatcher").drain()
            finally:
                for transport in transports.values():
                    await transport.aclose()

        asyncio.run(go())

    def alerts(self) -> list[Alert]:
        with self.db.read_session() as session:
            return list(session.scalars(select(Alert).order_by(Alert.id)))

    def views(self, state: service.State = "firing") -> list[service.AlertView]:
        with self.db.read_session() as session:
            return service.list_alerts(
                session, config=self.config, now=self.clock.now(), state=state, limit=None
            )


def alertnames(notification: dict[str, Any]) -> list[str]:
    return [a["labels"].get("instance", a["labels"]["alertname"]) for a in notification["alerts"]]


def dumps(data: Sequence[Any] | dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
