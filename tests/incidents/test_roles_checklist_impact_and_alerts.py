from __future__ import annotations

import pytest
from incidents_support import kinds, open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents import (
    IncidentError,
    IncidentNotFound,
    acknowledge,
    alerts,
    assign_role,
    attach_alert,
    get_incident,
    list_incidents,
    remove_role,
    resolve,
    roles,
    set_impact,
    tick_checklist,
    timeline,
)


def test_a_new_commander_replaces_the_old_and_responders_accumulate(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        for role, person in [
            ("commander", "alice"),
            ("commander", "rita"),
            ("responder", "alice"),
            ("responder", "vic"),
            ("responder", "vic"),  # again: no change
        ]:
            assign_role(
                session,
                incident_id=incident.id,
                role=role,
                person=person,
                by="alice",
                now=clock.now(),
            )
        remove_role(
            session,
            incident_id=incident.id,
            role="responder",
            person="vic",
            by="alice",
            now=clock.now(),
        )
        with pytest.raises(IncidentError, match="vic is not scribe"):
            remove_role(
                session,
                incident_id=incident.id,
                role="scribe",
                person="vic",
                by="a",
                now=clock.now(),
            )
        with pytest.raises(IncidentError, match="unknown role 'boss'"):
            assign_role(
                session, incident_id=incident.id, role="boss", person="x", by="a", now=clock.now()
            )
        held = [(r.role, r.person) for r in roles(session, incident_id=incident.id)]
        changes = timeline(
            session, incident_id=incident.id, kinds={"role_assigned", "role_removed"}
        )
    assert held == [("commander", "rita"), ("responder", "alice")]
    assert [(e.kind, e.data["role"], e.data["person"]) for e in changes] == [
        ("role_assigned", "commander", "alice"),
        ("role_removed", "commander", "alice"),
        ("role_assigned", "commander", "rita"),
        ("role_assigned", "responder", "alice"),
        ("role_assigned", "responder", "vic"),
        ("role_removed", "responder", "vic"),
    ]


def test_ticking_is_recorded_once_and_a_second_tick_says_so(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P3")
    with db.session() as session, session.begin():
        first = tick_checklist(
            session, incident_id=incident.id, item="assess IMPACT", by="rita", now=clock.now()
        )
        again = tick_checklist(session, incident_id=incident.id, item=2, by="vic", now=clock.now())
        with pytest.raises(IncidentError, match=r"no checklist item 9 .*1\. Acknowledge alert"):
            tick_checklist(session, incident_id=incident.id, item=9, by="a", now=clock.now())
    assert (first.changed, first.position, first.done_by) == (True, 2, "rita")
    assert again.changed is False
    assert again.message == '"Assess impact" was already ticked by rita; nothing changed'
    assert kinds(db, incident.id).count("checklist_ticked") == 1


def test_impact_changes_are_recorded_from_and_to(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        set_impact(
            session,
            incident_id=incident.id,
            components=["api", "checkout", "api"],
            users_affected=1200,
            by="rita",
            now=clock.now(),
        )
        set_impact(session, incident_id=incident.id, users_affected=1200, by="r", now=clock.now())
        (change,) = timeline(session, incident_id=incident.id, kinds={"impact_changed"})
        with pytest.raises(IncidentError, match="negative"):
            set_impact(session, incident_id=incident.id, users_affected=-1, by="r", now=clock.now())
    assert change.data == {
        "from": {"components": [], "users_affected": None},
        "to": {"components": ["api", "checkout"], "users_affected": 1200},
    }


def test_attach_alert_is_idempotent_per_key(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        first = attach_alert(
            session, incident_id=incident.id, key="pd:abc", source="pagerduty", now=clock.now()
        )
        second = attach_alert(
            session, incident_id=incident.id, key="pd:abc", source="pagerduty", now=clock.now()
        )
        assert first.id == second.id
        assert len(alerts(session, incident_id=incident.id)) == 1
    assert kinds(db, incident.id).count("alert_attached") == 1


def test_acknowledge_and_resolve_are_idempotent_for_alert_sources(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        for _ in range(2):
            acknowledge(session, incident_id=incident.id, by="pagerduty", now=clock.now())
        for _ in range(2):
            resolve(session, incident_id=incident.id, by="pagerduty", now=clock.now())
        assert acknowledge(session, incident_id=incident.id, by="x", now=clock.now()).status == (
            "resolved"
        )
    assert kinds(db, incident.id).count("status_changed") == 2


def test_listing_filters_and_lookups(db: Database, clock: FakeClock, config: OpsbookConfig) -> None:
    p1 = open_one(db, clock, config, severity="P1")
    p2 = open_one(db, clock, config, severity="P2")
    with db.session() as session, session.begin():
        resolve(session, incident_id=p1.id, by="a", now=clock.now())
    with db.session() as session:
        assert [i.id for i in list_incidents(session)] == [p2.id, p1.id]
        assert [i.id for i in list_incidents(session, open_only=True)] == [p2.id]
        assert [i.id for i in list_incidents(session, severity="P1")] == [p1.id]
        assert [i.id for i in list_incidents(session, status="resolved", service="shop")] == [p1.id]
        assert list_incidents(session, service="other") == []
        assert get_incident(session, number=p2.number).id == p2.id
        with pytest.raises(IncidentNotFound, match="no incident #99"):
            get_incident(session, number=99)
