"""The auditor repairs a lost escalation step, and never acts in a healthy system."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from oncall_support import escalation_of, jobs_of, open_one, paged, who_was_paged
from sqlalchemy import delete, func, select, update

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.core.models import Job
from opsbook.incidents import IncidentEvent, acknowledge, resolve, set_status
from opsbook.oncall.auditor import audit, schedule_audit
from opsbook.oncall.escalation import STEP_KIND


def _repairs(db: Database) -> list[dict[str, object]]:
    with db.session() as session:
        rows = session.scalars(
            select(IncidentEvent).where(IncidentEvent.kind == "escalation_repaired")
        )
        return [dict(row.data) for row in rows]


def test_a_deleted_step_is_rescheduled_and_pages_on_time(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    with db.session() as session, session.begin():
        schedule_audit(session, now=clock.now())
    opened = clock.now()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    lost = escalation_of(db, incident.id).next_step_key
    with db.session() as session, session.begin():
        session.execute(delete(Job).where(Job.key == lost))  # the level-2 step is lost
    clock.advance(timedelta(minutes=1))
    runner.run_until_idle()
    repairs = _repairs(db)
    assert len(repairs) == 1
    assert repairs[0]["problem"] == "lost"
    assert repairs[0]["lost_key"] == lost
    assert escalation_of(db, incident.id).repairs == 1
    clock.advance(timedelta(minutes=4))  # level 2 is due 5m after the page, as it was
    runner.run_until_idle()
    level_two = [p for p in paged(db, incident.id) if p["step"] == "e1.r0.p0.l2"]
    assert [(p["person"], p["at"]) for p in level_two] == [("lucia", opened + timedelta(minutes=5))]
    clock.advance(timedelta(minutes=3))
    runner.run_until_idle()
    assert len(_repairs(db)) == 1  # repaired once, healthy after


def test_a_cancelled_or_dead_step_and_a_lost_delivery_are_repaired(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    cancelled = open_one(db, clock, config)
    dead = open_one(db, clock, config)
    runner.run_until_idle()
    never = open_one(db, clock, config)
    keys = {
        status: escalation_of(db, i.id).next_step_key
        for i, status in ((cancelled, "cancelled"), (dead, "dead"))
    }
    with db.session() as session, session.begin():
        for status, key in keys.items():
            session.execute(update(Job).where(Job.key == key).values(status=status))
        session.execute(delete(Job).where(Job.key == f"incident:{never.id}:opened:oncall:primary"))
    with db.session() as session, session.begin():
        findings = audit(session, config=config, now=clock.now())
    assert sorted((f.incident_id, f.problem) for f in findings) == [
        (cancelled.id, "lost"),
        (dead.id, "lost"),
        (never.id, "never_started"),
    ]
    runner.run_until_idle()
    assert who_was_paged(db, never.id) == [("maya", f"e{escalation_of(db, never.id).id}.r0.p0.l1")]


def test_an_overdue_step_is_moved_to_now_only_while_the_auditor_is_on_time(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    key = escalation_of(db, incident.id).next_step_key
    clock.advance(timedelta(minutes=10))  # the step was due 5 minutes ago and never ran
    with db.session() as session, session.begin():
        late = audit(
            session, config=config, now=clock.now(), due_at=clock.now() - timedelta(minutes=5)
        )
        assert late == []  # the auditor itself is late: the worker is behind, not the step
        findings = audit(session, config=config, now=clock.now())
    assert [(f.problem, f.incident_id) for f in findings] == [("overdue", incident.id)]
    assert escalation_of(db, incident.id).next_step_key != key
    runner.run_until_idle()  # the old step runs too, finds itself superseded, does nothing
    assert who_was_paged(db, incident.id).count(("lucia", "e1.r0.p0.l2")) == 1


def test_a_long_healthy_run_of_many_incidents_needs_no_repair(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    rng = random.Random(6)
    runner = make_runner()
    with db.session() as session, session.begin():
        schedule_audit(session, now=clock.now())
    opened = []
    for minute in range(8 * 60):  # eight hours, a minute at a time, some jumps
        if minute % 7 == 0 and len(opened) < 40:
            opened.append(open_one(db, clock, config, severity=rng.choice(["P0", "P1", "P2"])))
        for incident in rng.sample(opened, k=min(2, len(opened))):
            with db.session() as session, session.begin():
                roll = rng.random()
                if roll < 0.05:
                    acknowledge(session, incident_id=incident.id, by="person:maya", now=clock.now())
                elif roll < 0.07:
                    resolve(session, incident_id=incident.id, by="alert", now=clock.now())
                elif roll < 0.08:
                    current = session.get(type(incident), incident.id)
                    if current is not None and current.status == "acknowledged":
                        set_status(
                            session,
                            config=config,
                            incident_id=incident.id,
                            to="investigating",
                            by="person:dev",
                            now=clock.now(),
                        )
        runner.run_until_idle()
        clock.advance(timedelta(minutes=rng.choice([1, 1, 1, 2, 3])))
    assert _repairs(db) == []
    with db.session() as session:
        audits = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "oncall.audit", Job.status == "done")
        )
        statuses = set(session.scalars(select(Job.status).where(Job.kind == STEP_KIND)))
    assert audits is not None
    assert audits > 200  # it really ran, all along
    assert "dead" not in statuses
    assert len(jobs_of(db, STEP_KIND)) > 40
