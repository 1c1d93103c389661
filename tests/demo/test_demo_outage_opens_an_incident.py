"""The demo's rules turn the sample app's outage into a paged P1 incident, and its
recovery resolves it: the path the README promises after `curl ... mode=down`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from alerts.pipeline import Pipeline, make_runtime
from opsbook import incidents
from opsbook.alerts import service as alerts
from opsbook.alerts.rules.jobs import schedule_rule_jobs
from opsbook.checks.result import CheckResult
from opsbook.checks.service import record_results
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.demo.cli import render_demo_config

DEMO_CHECKS = ("healthz", "readyz", "api-health")


def _beat(pipeline: Pipeline, *, ok: bool, seconds: int) -> None:
    """Five-second check results for ``seconds``, with due work run as time passes."""
    for _ in range(seconds // 5):
        now = pipeline.clock.now()
        results = [
            CheckResult(
                check=name,
                kind="http",
                started_at=now,
                ok=ok,
                status="up" if ok else "down",
                timings={"total": 0.05},
            )
            for name in DEMO_CHECKS
        ]
        with pipeline.db.session() as session, session.begin():
            record_results(session, results=results, now=now)
        pipeline.clock.advance(timedelta(seconds=5))
        pipeline.run_jobs()


def _incidents(pipeline: Pipeline) -> list[incidents.Incident]:
    with pipeline.db.read_session() as session:
        return list(session.scalars(select(incidents.Incident)))


def test_the_demo_outage_opens_a_paged_p1_and_recovery_resolves_it(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    text = render_demo_config(
        target_url="http://127.0.0.1:9",
        tls_port=9,
        app_db=tmp_path / "app.db",
        config_path=tmp_path / "opsbook.yaml",
        database_url=db.url,
        mail_port=9,
        opsbook_url="http://127.0.0.1:8080",
    )
    pipeline = Pipeline(make_runtime(db, clock, text, tmp_path))
    with db.session() as session, session.begin():
        schedule_rule_jobs(session, rules=pipeline.runtime.config.rules, now=clock.now())
    _beat(pipeline, ok=True, seconds=60)
    assert _incidents(pipeline) == []

    _beat(pipeline, ok=False, seconds=90)  # mode=down
    [incident] = _incidents(pipeline)
    assert (incident.severity, incident.service) == ("P1", "pawfectmatch")
    # The alert's component label marks its component affected, for the status page; the
    # inhibited ApiUnhealthy alert joins nothing, so API is not (yet) named.
    assert incident.components == ["Website"]
    assert incident.title.startswith("SiteDown: healthz.json has failed ")
    assert incident.title.endswith(" times in a row")
    with db.read_session() as session:
        firing = alerts.list_alerts(session, config=pipeline.runtime.config, now=clock.now())
        entries = incidents.timeline(session, incident_id=incident.id)
    by_name = {a.labels["alertname"]: a for a in firing}
    assert set(by_name) == {"SiteDown", "ApiUnhealthy"}
    # "Site down" inhibits the per-endpoint alert: recorded, but muted.
    assert by_name["ApiUnhealthy"].mute.inhibited_by
    assert not by_name["SiteDown"].mute.inhibited_by
    assert any(e.kind == "paged" for e in entries)  # the on-call was paged

    _beat(pipeline, ok=True, seconds=90)  # mode=ok
    [incident] = _incidents(pipeline)
    assert incident.status == "resolved"
