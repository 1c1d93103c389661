"""A rule's alert goes through the real pipeline: it fires after `for`, opens an incident
through the route, and resolving the rule resolves the alert and the incident."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from alerts.pipeline import Pipeline, make_runtime
from opsbook import incidents
from opsbook.alerts import service
from opsbook.alerts.rules.jobs import schedule_rule_jobs
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.metrics.store import Sample, write_samples

CONFIG = """\
service: {name: shop}
channels:
  - {name: console, kind: console}
rules:
  - name: ErrorsPerMinute
    expr: sum(rate(app_errors_total[5m])) * 60 > 10
    for: 2m
    every: 30s
    severity: P1
    labels: {service: checkout}
    annotations:
      summary: "{{ $value }} errors a minute"
alerts:
  route:
    channels: [console]
    group_by: [alertname, service]
    group_wait: 0s
    routes:
      - matchers: ['alertname="ErrorsPerMinute"']
        incident: {group_by: [service], group_window: 1h}
"""


def _push(pipeline: Pipeline, total: float) -> None:
    with pipeline.db.session() as session, session.begin():
        write_samples(
            session,
            samples=[
                Sample(
                    name="app_errors_total",
                    labels={"job": "app"},
                    value=total,
                    at=pipeline.clock.now(),
                )
            ],
            now=pipeline.clock.now(),
        )


def _run_for(pipeline: Pipeline, minutes: int, per_minute: float, total: float) -> float:
    """Push a counter growing by ``per_minute`` every 15 s, running due work as time passes."""
    for _ in range(minutes * 4):
        total += per_minute / 4
        _push(pipeline, total)
        pipeline.clock.advance(timedelta(seconds=15))
        pipeline.run_jobs()
    return total


def test_a_rule_fires_into_an_incident_and_its_recovery_resolves_it(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    pipeline = Pipeline(make_runtime(db, clock, CONFIG, tmp_path))
    with db.session() as session, session.begin():
        schedule_rule_jobs(session, rules=pipeline.runtime.config.rules, now=clock.now())
    total = _run_for(pipeline, minutes=6, per_minute=2, total=0)  # quiet: 2 a minute
    with db.read_session() as session:
        assert session.scalars(select(incidents.Incident)).all() == []

    total = _run_for(pipeline, minutes=8, per_minute=60, total=total)  # 60 a minute
    with db.read_session() as session:
        [alert] = service.list_alerts(session, config=pipeline.runtime.config, now=clock.now())
        [incident] = session.scalars(select(incidents.Incident)).all()
        linked = [a.alert_key for a in incidents.alerts(session, incident_id=incident.id)]
    assert alert.labels["alertname"] == "ErrorsPerMinute"
    assert alert.source == "rule"
    assert (incident.severity, incident.service, incident.status) == ("P1", "checkout", "triggered")
    assert linked == [alert.fingerprint]

    _run_for(pipeline, minutes=8, per_minute=0, total=total)  # recovered
    with db.read_session() as session:
        firing = service.list_alerts(session, config=pipeline.runtime.config, now=clock.now())
        [incident] = session.scalars(select(incidents.Incident)).all()
    assert firing == []
    assert incident.status == "resolved"
