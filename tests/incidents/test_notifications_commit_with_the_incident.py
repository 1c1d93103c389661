from __future__ import annotations

import pytest
from incidents_support import open_one, outbox_keys
from sqlalchemy import func, select

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.incidents import Incident, open_incident, timeline


def test_channel_targets_are_queued_and_other_targets_recorded_as_pending(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P0")
    assert outbox_keys(db) == [f"incident:{incident.id}:opened:incidents"]
    with db.session() as session:
        message = session.scalars(select(Notification.message)).one()
        queued = timeline(session, incident_id=incident.id, kinds={"notification_queued"})
        pending = timeline(session, incident_id=incident.id, kinds={"notification_pending"})
    assert message["event"] == "incident.opened"
    assert message["title"] == f"[P0] #{incident.number} Checkout is failing"
    assert [e.data["target"] for e in queued] == ["channel:incidents"]
    opened = {e.data["target"]: e.body for e in pending if e.data["purpose"] == "opened"}
    assert opened == {
        "oncall:primary": "oncall:primary: pending on-call support",
        "oncall:secondary": "oncall:secondary: pending on-call support",
        "status_page": "status_page: pending status page support",
        "stakeholders": "stakeholders: pending stakeholder support",
    }


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
