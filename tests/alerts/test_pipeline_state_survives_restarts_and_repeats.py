"""Flush times are rows: a restart neither re-sends nor forgets, a repeated or duplicated
job sends nothing twice, and the sink commits with its caller or not at all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.pipeline import ALERTS_CONFIG, Pipeline, make_runtime
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.models import Alert, AlertGroup
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job


def test_a_pending_flush_survives_a_restart_and_runs_once(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    before = Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))
    before.fire(alertname="Down", service="api")
    del before  # the process is gone; its rows stay
    after = Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))
    after.advance(30)
    assert len(after.notifications()) == 1
    after.advance(30)
    again = Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))  # another restart
    again.advance(4 * 60)
    assert len(again.notifications()) == 1  # nothing new: nothing re-sent


def test_a_repeated_flush_sends_nothing_twice(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api")
    pipeline.advance(30)
    with pipeline.db.session() as session, session.begin():
        group = session.scalars(select(AlertGroup)).one()
        group.next_flush_at = pipeline.clock.now()  # as another process with a stale view might
    pipeline.run_jobs()
    assert len(pipeline.notifications()) == 1
    assert pipeline.notification_keys() == ["alerts:1:1:am"]


def test_two_flushers_flush_each_group_once(pipeline: Pipeline) -> None:
    for service in ("a", "b", "c"):
        pipeline.fire(alertname="Down", service=service)
    pipeline.clock.advance(timedelta(seconds=30))
    first, second = pipeline.runtime.group_flusher(), pipeline.runtime.group_flusher()
    first.batch = second.batch = 1
    sent = [o.notified for o in [*first.run_once(), *second.run_once(), *first.run_until_idle()]]
    assert sent == [True, True, True]
    assert second.run_until_idle() == []
    assert sorted(n["groupLabels"]["service"] for n in pipeline.notifications()) == ["a", "b", "c"]


def test_the_sink_commits_with_its_caller_or_not_at_all(pipeline: Pipeline) -> None:
    sink = pipeline.runtime.alert_sink
    alert = AlertInput(labels={"alertname": "RuleFired", "rule": "error-rate"}, source="rule")

    def rule_engine_round() -> None:
        with pipeline.db.session() as session, session.begin():
            sink(session, alerts=[alert], now=pipeline.clock.now())
            raise RuntimeError("the rule engine's own write failed")

    with pytest.raises(RuntimeError):
        rule_engine_round()
    with pipeline.db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.kind == "alerts.flush"))
            == 0
        )
    with pipeline.db.session() as session, session.begin():
        result = sink(session, alerts=[alert], now=pipeline.clock.now())
    assert (result.new, result.refreshed) == (1, 0)  # type: ignore[attr-defined]
    with pipeline.db.session() as session, session.begin():
        assert sink(session, alerts=[alert], now=pipeline.clock.now()).refreshed == 1  # type: ignore[attr-defined]
    pipeline.advance(30)
    assert [n["groupLabels"]["alertname"] for n in pipeline.notifications()] == ["RuleFired"]


def test_one_batch_with_the_same_alert_twice_keeps_the_last(pipeline: Pipeline) -> None:
    now = pipeline.clock.now()
    labels = {"alertname": "Flappy"}
    result = pipeline.send(
        AlertInput(labels=labels, source="t"),
        AlertInput(labels=labels, ends_at=now, source="t"),
        AlertInput(labels=labels, annotations={"summary": "last"}, source="t"),
    )
    assert (result.new, result.resolved) == (1, 0)
    [alert] = pipeline.alerts()
    assert alert.annotations == {"summary": "last"}
