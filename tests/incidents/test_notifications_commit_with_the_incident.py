from __future__ import annotations

from collections.abc import Callable

import pytest
from incidents_support import open_one, outbox_keys
from sqlalchemy import func, select

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.core.models import Job, Notification
from opsbook.incidents import Incident, open_incident, timeline


def test_channel_targets_are_queued_and_other_targets_handed_to_delivery_jobs(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P0")
    assert outbox_keys(db) == [f"incident:{incident.id}:opened:incidents"]
    with db.session() as session:
        message = session.scalars(select(Notification.message)).one()
        queued = timeline(session, incident_id=incident.id, kinds={"notification_queued"})
        pending = timeline(session, incident_id=incident.id, kinds={"notification_pending"})
        handed = {
            job.key: (job.kind, job.payload)
            for job in session.scalars(select(Job).where(Job.kind.like("incidents.target.%")))
        }
    assert message["event"] == "incident.opened"
    assert message["title"] == f"[P0] #{incident.number} Checkout is failing"
    assert [e.data["target"] for e in queued] == ["channel:incidents"]
    opened = {e.data["target"]: e.data["job_key"] for e in pending if e.data["purpose"] == "opened"}
    assert opened == {
        target: f"incident:{incident.id}:opened:{target}"
        for target in ("oncall:primary", "oncall:secondary", "status_page", "stakeholders")
    }
    kind, payload = handed[f"incident:{incident.id}:opened:oncall:primary"]
    assert kind == "incidents.target.oncall"
    assert payload["message"]["title"] == message["title"]
    assert (payload["incident_id"], payload["purpose"]) == (incident.id, "opened")


def test_a_target_no_domain_takes_is_recorded_as_unreachable(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    make_runner().run_until_idle()
    with db.session() as session:
        unreachable = timeline(session, incident_id=incident.id, kinds={"notification_unreachable"})
        dead = session.scalars(select(Job.key).where(Job.status == "dead")).all()
    assert {e.data["target"]: e.body for e in unreachable if e.data["purpose"] == "opened"} == {
        "oncall:primary": "oncall:primary: no on-call schedules can take it",
        "status_page": "status_page: no status page can take it",
    }
    assert dead == []


def test_a_domain_handler_replaces_the_fallback(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    from opsbook.core.jobs import JobContext, JobRegistry, JobRunner
    from opsbook.incidents import register_incident_jobs
    from opsbook.incidents.targets import TargetDelivery, target_job_kind

    seen: list[TargetDelivery] = []

    def page(ctx: JobContext) -> None:
        seen.append(TargetDelivery.from_payload(ctx.job.payload))

    registry = JobRegistry()
    registry.register(target_job_kind("oncall"), page)
    register_incident_jobs(registry, config=lambda: config)
    incident = open_one(db, clock, config, severity="P1")
    JobRunner(db=db, registry=registry, clock=clock, worker_id="w").run_until_idle()
    assert [(d.incident_id, str(d.target), d.purpose) for d in seen] == [
        (incident.id, "oncall:primary", "opened")
    ]
    assert seen[0].key == f"incident:{incident.id}:opened:oncall:primary"
    with db.session() as session:
        unreachable = timeline(session, incident_id=incident.id, kinds={"notification_unreachable"})
    assert [e.data["target"] for e in unreachable] == ["status_page"]


def test_rolling_back_the_open_leaves_no_incident_job_or_notification(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    def open_then_fail() -> None:
        with db.session() as session, session.begin():
            open_incident(
                session, config=config, title="Checkout", severity="P1", by="a", now=clock.now()
            )
            assert session.scalar(select(func.count()).select_from(Notification)) == 1
            raise RuntimeError("the caller's later step failed")

    with pytest.raises(RuntimeError):
        open_then_fail()
    with db.session() as session:
        for table in (Incident, Notification, Job):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_the_opening_checklist_comes_from_the_severity(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    from opsbook.incidents import checklist

    incident = open_one(db, clock, config, severity="P3")
    with db.session() as session:
        items = [(i.position, i.item) for i in checklist(session, incident_id=incident.id)]
    assert items == [(1, "Acknowledge alert"), (2, "Assess impact"), (3, "Deploy fix")]
