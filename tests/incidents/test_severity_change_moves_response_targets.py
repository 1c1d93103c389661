from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from incidents_support import jobs_by_key, kinds, open_one, outbox_keys

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import IncidentError, change_severity, get_incident, timeline


def test_raising_the_severity_reschedules_targets_and_records_from_and_to(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P3")  # 24h respond, 48h escalate
    start = incident.triggered_at
    jobs = jobs_by_key(db)
    assert jobs[f"incident:{incident.id}:respond_within"].run_at == start + timedelta(hours=24)
    assert jobs[f"incident:{incident.id}:escalate_after:0:1"].run_at == start + timedelta(hours=48)
    clock.advance(timedelta(minutes=10))
    with db.session() as session, session.begin():
        change_severity(
            session,
            config=config,
            incident_id=incident.id,
            severity="P1",
            by="alice",
            now=clock.now(),
            reason="checkout affected",
        )
    jobs = jobs_by_key(db)
    # Counted from the trigger, not from the change.
    assert jobs[f"incident:{incident.id}:respond_within"].run_at == start + timedelta(minutes=30)
    assert jobs[f"incident:{incident.id}:escalate_after:0:1"].run_at == start + timedelta(hours=1)
    with db.session() as session:
        (change,) = timeline(session, incident_id=incident.id, kinds={"severity_changed"})
    assert (change.data["from"], change.data["to"], change.actor) == ("P3", "P1", "alice")
    assert change.data["reason"] == "checkout affected"
    # The raise tells the P1 targets P3 did not have (P3 notifies no one).
    assert f"incident:{incident.id}:severity-P1:incidents" in outbox_keys(db)
    clock.advance(timedelta(minutes=20))
    make_runner().run_until_idle()
    assert "response_breached" in kinds(db, incident.id)


def test_a_target_already_passed_under_the_new_severity_fires_at_once(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P2")  # respond within 2h
    clock.advance(timedelta(minutes=45))
    with db.session() as session, session.begin():
        change_severity(
            session, config=config, incident_id=incident.id, severity="P1", by="a", now=clock.now()
        )
    make_runner().run_until_idle()
    with db.session() as session:
        (breach,) = timeline(session, incident_id=incident.id, kinds={"response_breached"})
    assert breach.at == clock.now()


def test_lowering_the_severity_drops_levels_it_does_not_have(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")  # 2 levels, 1h apart
    clock.advance(timedelta(hours=1))
    make_runner().run_until_idle()
    with db.session() as session, session.begin():
        change_severity(
            session, config=config, incident_id=incident.id, severity="P3", by="a", now=clock.now()
        )
    # P3 has a single escalation level, already reached: the pending level 2 is cancelled.
    assert jobs_by_key(db)[f"incident:{incident.id}:escalate_after:0:2"].status == "cancelled"
    clock.advance(timedelta(days=3))
    make_runner().run_until_idle()
    assert kinds(db, incident.id).count("escalated") == 1


def test_same_severity_is_a_no_op_and_unknown_is_an_error(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P2")
    with db.session() as session, session.begin():
        change_severity(
            session, config=config, incident_id=incident.id, severity="P2", by="a", now=clock.now()
        )
        with pytest.raises(IncidentError, match="unknown severity 'P9'"):
            change_severity(
                session,
                config=config,
                incident_id=incident.id,
                severity="P9",
                by="a",
                now=clock.now(),
            )
        assert get_incident(session, incident_id=incident.id).version == 1
    assert "severity_changed" not in kinds(db, incident.id)
