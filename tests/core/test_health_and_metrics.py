"""Opsbook's own /healthz, /readyz and /metrics."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from opsbook.core import outbox
from opsbook.core.jobs import schedule
from opsbook.core.worker import beat
from opsbook.runtime import Runtime
from support import bearer


def test_healthz_answers_in_the_runbook_shape(client: TestClient, runtime: Runtime) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["services"] == {"process": "ok"}
    assert body["timestamp"] == runtime.clock.now().isoformat()


def test_readyz_needs_a_fresh_worker_heartbeat(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["services"] == {"database": "ok", "worker": "stale"}

    beat(runtime.db, worker_id="w1", now=runtime.clock.now(), started_at=runtime.clock.now())
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["services"] == {"database": "ok", "worker": "ok"}

    runtime.clock.advance(runtime.settings.worker_stale_after + timedelta(seconds=1))
    assert client.get("/readyz").status_code == 503


def test_readyz_reports_a_database_that_does_not_answer(
    client: TestClient, runtime: Runtime
) -> None:
    assert runtime.intake is not None
    runtime.intake.committer.close()  # the connection intake keeps (its warm-up opened it)
    runtime.db.engine.dispose()
    broken = runtime.db.engine.url.set(
        database="/nonexistent/dir/x.db" if runtime.db.dialect == "sqlite" else "no_such_db"
    )
    from opsbook.core.db import Database

    client.app.state.runtime.db = Database.connect(broken.render_as_string(hide_password=False))  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["services"]["database"] == "down"


def test_metrics_need_a_token_and_report_queues_and_latency(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    assert client.get("/metrics").status_code == 401
    now = runtime.clock.now()
    with runtime.db.session() as session, session.begin():
        schedule(session, kind="x", key="due", run_at=now, now=now)
        schedule(session, kind="x", key="later", run_at=now + timedelta(hours=1), now=now)
        for key in ("a", "b"):
            outbox.enqueue(
                session, channel="console", kind="console", message={}, idempotency_key=key, now=now
            )
    [delivery, _other] = outbox.claim(
        runtime.db, worker_id="w", now=now, lease=timedelta(minutes=1), limit=2
    )
    outbox.mark_delivered(
        runtime.db, delivery, worker_id="w", now=now + timedelta(milliseconds=300)
    )

    text = client.get("/metrics", headers=bearer(tokens["viewer"])).text
    assert 'opsbook_jobs{status="pending"} 2' in text
    assert "opsbook_job_queue_depth 1" in text
    assert "opsbook_outbox_backlog 1" in text
    assert 'opsbook_notifications{status="delivered"} 1' in text
    assert 'opsbook_notification_delivery_latency_seconds_bucket{le="0.25"} 0' in text
    assert 'opsbook_notification_delivery_latency_seconds_bucket{le="0.5"} 1' in text
    assert "opsbook_notification_delivery_latency_seconds_sum 0.3" in text
    assert "opsbook_notification_delivery_latency_seconds_count 1" in text
