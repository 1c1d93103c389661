"""respond_within and escalate_after under the fake clock, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from incidents_support import jobs_by_key, kinds, open_one, outbox_keys

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import acknowledge, get_incident, resolve, set_status, timeline


def test_respond_within_breaches_at_exactly_the_target(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")  # respond within 30 min
    runner = make_runner()
    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    runner.run_due()
    assert "response_breached" not in kinds(db, incident.id)
    clock.advance(timedelta(seconds=1))
    runner.run_due()
    with db.session() as session:
        breached = timeline(session, incident_id=incident.id, kinds={"response_breached"})
        assert get_incident(session, incident_id=incident.id).breached_at == clock.now()
    assert [e.at for e in breached] == [clock.now()]
    assert breached[0].body == "No acknowledgement within 30m (P1 target)"
    # The escalation contacts (P1 here: channel:leads, channel:cto) are told.
    keys = outbox_keys(db)
    assert f"incident:{incident.id}:breached:leads" in keys
    assert f"incident:{incident.id}:breached:cto" in keys
    # Firing again (a retried job) adds nothing.
    clock.advance(timedelta(minutes=1))
    runner.run_until_idle()
    assert kinds(db, incident.id).count("response_breached") == 1


def test_an_ack_before_the_target_cancels_the_breach(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    clock.advance(timedelta(minutes=29))
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="rita", now=clock.now())
    assert jobs_by_key(db)[f"incident:{incident.id}:respond_within"].status == "cancelled"
    clock.advance(timedelta(minutes=5))
    make_runner().run_until_idle()
    assert "response_breached" not in kinds(db, incident.id)
    with db.session() as session:
        assert get_incident(session, incident_id=incident.id).breached_at is None


def test_p0_uses_the_page_ack_target(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P0")  # ack within 5 min, respond 15
    job = jobs_by_key(db)[f"incident:{incident.id}:respond_within"]
    assert job.run_at == incident.triggered_at + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    make_runner().run_until_idle()
    assert "response_breached" in kinds(db, incident.id)


def test_a_handler_for_a_satisfied_incident_does_nothing(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    """A job claimed before the ack committed must not breach an acknowledged incident."""
    incident = open_one(db, clock, config, severity="P1")
    clock.advance(timedelta(minutes=30))
    runner = make_runner()
    claimed = runner.claim()  # claimed, so the ack's cancel no longer touches it
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="rita", now=clock.now())
    for job in claimed:
        runner.run(job)
    assert "response_breached" not in kinds(db, incident.id)


def test_escalate_after_fires_once_per_level(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")  # 1h per level: leads, then cto
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="rita", now=clock.now())
    runner = make_runner()
    clock.advance(timedelta(minutes=59))
    runner.run_until_idle()
    assert "escalated" not in kinds(db, incident.id)
    clock.advance(timedelta(minutes=1))
    runner.run_until_idle()
    clock.advance(timedelta(hours=1))
    runner.run_until_idle()
    clock.advance(timedelta(hours=5))  # no third level
    runner.run_until_idle()
    with db.session() as session:
        escalated = timeline(session, incident_id=incident.id, kinds={"escalated"})
        assert get_incident(session, incident_id=incident.id).escalation_level == 2
    start = incident.triggered_at
    assert [(e.data["level"], e.data["target"], e.at - start) for e in escalated] == [
        (1, "channel:leads", timedelta(hours=1)),
        (2, "channel:cto", timedelta(hours=2)),
    ]
    keys = outbox_keys(db)
    assert f"incident:{incident.id}:escalated-0-1:leads" in keys
    assert f"incident:{incident.id}:escalated-0-2:cto" in keys


def test_resolve_cancels_escalation(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    clock.advance(timedelta(minutes=10))
    with db.session() as session, session.begin():
        resolve(session, incident_id=incident.id, by="rita", now=clock.now())
    jobs = jobs_by_key(db)
    assert jobs[f"incident:{incident.id}:escalate_after:0:1"].status == "cancelled"
    assert jobs[f"incident:{incident.id}:respond_within"].status == "cancelled"
    clock.advance(timedelta(hours=3))
    make_runner().run_until_idle()
    assert {"escalated", "response_breached"}.isdisjoint(kinds(db, incident.id))


def test_p0_escalates_at_once(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P0")  # escalate_after 0s
    make_runner().run_until_idle()  # no time passes
    with db.session() as session:
        escalated = timeline(session, incident_id=incident.id, kinds={"escalated"})
        pending = timeline(session, incident_id=incident.id, kinds={"notification_pending"})
    # The default P0 path: oncall:secondary, then stakeholders, both at once.
    assert [(e.data["level"], e.data["target"], e.at) for e in escalated] == [
        (1, "oncall:secondary", incident.triggered_at),
        (2, "stakeholders", incident.triggered_at),
    ]
    assert any(e.data["purpose"] == "escalated-0-1" for e in pending)


def test_a_reopened_incident_escalates_again_from_the_reopen(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    runner = make_runner()
    with db.session() as session, session.begin():
        resolve(session, incident_id=incident.id, by="rita", now=clock.now())
    clock.advance(timedelta(minutes=30))
    with db.session() as session, session.begin():
        set_status(
            session,
            config=config,
            incident_id=incident.id,
            to="investigating",
            by="rita",
            now=clock.now(),
        )
    reopened_at = clock.now()
    clock.advance(timedelta(hours=1))
    runner.run_until_idle()
    with db.session() as session:
        escalated = timeline(session, incident_id=incident.id, kinds={"escalated"})
    assert [(e.data["cycle"], e.data["level"], e.at) for e in escalated] == [
        (1, 1, reopened_at + timedelta(hours=1))
    ]
