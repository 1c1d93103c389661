"""Resolved alerts go after ``alerts.keep_resolved``; the newest row always stays, so that
SQLite never hands a deleted alert's id (and its job keys) to the next alert."""

from __future__ import annotations

from datetime import timedelta

from alerts.pipeline import Pipeline
from opsbook.alerts.sweep import prune


def _prune(pipeline: Pipeline) -> int:
    with pipeline.db.session() as session, session.begin():
        return prune(session, keep=pipeline.config.alerts.keep_resolved, now=pipeline.clock.now())


def test_old_resolved_alerts_go_but_the_newest_row_stays(pipeline: Pipeline) -> None:
    for instance in ("a", "b", "c"):
        pipeline.fire(alertname="Down", service="api", instance=instance)
        pipeline.resolve(alertname="Down", service="api", instance=instance)
    pipeline.fire(alertname="Down", service="api", instance="open")  # never resolved
    pipeline.clock.advance(pipeline.config.alerts.keep_resolved - timedelta(seconds=1))
    assert _prune(pipeline) == 0  # not old enough yet

    pipeline.clock.advance(timedelta(seconds=2))
    assert _prune(pipeline) == 3
    assert [a.labels["instance"] for a in pipeline.alerts()] == ["open"]


def test_the_newest_alert_stays_even_when_it_is_old_and_resolved(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.resolve(alertname="Down", service="api", instance="a")
    pipeline.fire(alertname="Down", service="api", instance="b")
    pipeline.resolve(alertname="Down", service="api", instance="b")
    pipeline.clock.advance(pipeline.config.alerts.keep_resolved + timedelta(days=1))

    assert _prune(pipeline) == 1
    [kept] = pipeline.alerts()
    pipeline.fire(alertname="Down", service="api", instance="c")
    assert [a.id for a in pipeline.alerts()] == [kept.id, kept.id + 1]
