from __future__ import annotations

import pytest
from incidents_support import open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents import (
    Conflict,
    assign_role,
    change_severity,
    get_incident,
    set_impact,
    set_status,
    timeline,
)


def test_an_edit_based_on_a_stale_version_is_a_conflict(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    seen = incident.version  # what Alice's page showed
    with db.session() as session, session.begin():  # Rita acts first
        change_severity(
            session,
            config=config,
            incident_id=incident.id,
            severity="P0",
            by="rita",
            now=clock.now(),
            expected_version=seen,
        )
    with (
        pytest.raises(Conflict, match="changed by someone else") as raised,
        db.session() as session,
        session.begin(),
    ):
        set_status(
            session,
            config=config,
            incident_id=incident.id,
            to="investigating",
            by="alice",
            now=clock.now(),
            expected_version=seen,
        )
    assert (raised.value.expected, raised.value.actual) == (seen, seen + 1)
    with db.session() as session:
        assert get_incident(session, incident_id=incident.id).status == "triggered"
        assert timeline(session, incident_id=incident.id, kinds={"status_changed"}) == []


def test_each_state_change_bumps_the_version(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        v1 = get_incident(session, incident_id=incident.id).version
        assign_role(
            session,
            incident_id=incident.id,
            role="commander",
            person="alice",
            by="alice",
            now=clock.now(),
            expected_version=v1,
        )
        set_impact(
            session,
            incident_id=incident.id,
            users_affected=300,
            by="alice",
            now=clock.now(),
            expected_version=v1 + 1,
        )
        assert get_incident(session, incident_id=incident.id).version == v1 + 2


def test_a_concurrent_writer_on_a_loaded_row_is_a_conflict(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    """Two transactions that both loaded version 1: the second flush fails, nothing is lost."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite writers take the write lock at BEGIN, so they cannot interleave")
    incident = open_one(db, clock, config)
    slow = db.session()
    slow.begin()
    # Held, as a request handler holds it: the identity map only keeps rows weakly.
    loaded = get_incident(slow, incident_id=incident.id)
    assert loaded.version == 1
    with db.session() as fast, fast.begin():
        set_impact(fast, incident_id=incident.id, users_affected=10, by="rita", now=clock.now())
    with pytest.raises(Conflict):
        set_impact(slow, incident_id=incident.id, users_affected=99, by="vic", now=clock.now())
    slow.rollback()
    slow.close()
    with db.session() as session:
        assert get_incident(session, incident_id=incident.id).users_affected == 10
