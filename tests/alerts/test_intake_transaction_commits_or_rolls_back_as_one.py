"""Intake's own transaction: raw SQL and, when a step needs it, an ORM session on the same
connection commit together or not at all, and wake the worker only once committed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from alerts.pipeline import Pipeline, dumps
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.ingest import FLUSH_TOPIC, IntakeTransaction, receive
from opsbook.alerts.models import Alert
from opsbook.alerts.routing import routing_tree
from opsbook.app import create_app
from opsbook.core.jobs import schedule
from opsbook.core.models import Job
from opsbook.core.wakeup import JOBS


def _receive(pipeline: Pipeline, tx: IntakeTransaction, name: str) -> None:
    receive(
        tx,
        tree=routing_tree(pipeline.config.alerts),
        alerts=[AlertInput(labels={"alertname": name, "service": "s"}, source="test")],
        now=pipeline.clock.now(),
    )


def _state(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    with pipeline.db.read_session() as session:
        alerts = list(session.scalars(select(Alert.alertname).order_by(Alert.id)))
        jobs = list(session.scalars(select(Job.key).where(Job.kind == "test.intake")))
    return alerts, jobs


def test_raw_statements_and_a_joined_session_commit_together(pipeline: Pipeline) -> None:
    db, now = pipeline.db, pipeline.clock.now()
    with db.engine.connect() as connection:
        with IntakeTransaction(db, connection) as tx:
            _receive(pipeline, tx, "Raw")
        after_raw = db.wakeup.pending(now + timedelta(seconds=31), topic=FLUSH_TOPIC)
        with IntakeTransaction(db, connection) as tx:
            _receive(pipeline, tx, "Joined")
            schedule(tx.session, kind="test.intake", key="test.intake:1", run_at=now, now=now)

    assert _state(pipeline) == (["Raw", "Joined"], ["test.intake:1"])
    assert after_raw  # the group's flush (group_wait 30s) was noted after the raw commit
    assert db.wakeup.pending(now, topic=JOBS)  # the session's own marks woke the job loop


@pytest.mark.parametrize("joined", [False, True], ids=["raw", "with a session"])
def test_a_failing_batch_leaves_nothing_and_wakes_nobody(pipeline: Pipeline, joined: bool) -> None:
    db, now = pipeline.db, pipeline.clock.now()
    # The start booked its jobs, a reroute among them due now: the job loop takes that
    # wake-up first, so that any later one comes from the batches below.
    asyncio.run(db.wakeup.wait(0, now=lambda: now, stop=lambda: False, topic=JOBS))
    assert not db.wakeup.pending(now, topic=JOBS)

    def refused_batch(connection: Connection) -> None:
        with IntakeTransaction(db, connection) as tx:
            _receive(pipeline, tx, "Lost")
            if joined:
                schedule(tx.session, kind="test.intake", key="test.intake:2", run_at=now, now=now)
            raise RuntimeError("refused")

    with db.engine.connect() as connection:
        with pytest.raises(RuntimeError, match="refused"):
            refused_batch(connection)
        with IntakeTransaction(db, connection) as tx:  # the connection is usable again
            _receive(pipeline, tx, "Kept")

    assert _state(pipeline) == (["Kept"], [])
    assert not db.wakeup.pending(now, topic=JOBS)


def test_intake_leaves_sqlite_checkpoints_to_the_worker_and_gives_its_connection_back_as_found(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    if pipeline.db.dialect != "sqlite":
        pytest.skip("a SQLite WAL setting")
    pipeline.runtime.build_worker(worker_id="worker-a")  # this process runs a worker

    def autocheckpoint(connection: Connection) -> int:
        dbapi: Any = connection.connection.dbapi_connection
        return int(dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        response = client.post(
            "/api/v2/alerts",
            content=dumps([{"labels": {"alertname": "A", "service": "s"}}]),
            headers={"Authorization": f"Bearer {alert_tokens['responder']}"},
        )
        assert response.status_code == 200
        committer = pipeline.runtime.intake.committer
        held = committer._connection
        assert held is not None
        # A checkpoint syncs: it would land inside an intake commit; the worker's do it.
        assert autocheckpoint(held) == 0
        raw = held.connection.dbapi_connection
    # Closed with the app, and given back to the pool (idle there) as SQLite's default.
    assert committer._connection is None
    assert raw is not None
    assert int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 1000
