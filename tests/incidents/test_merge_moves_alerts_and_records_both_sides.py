from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from incidents_support import jobs_by_key, kinds, open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import (
    IncidentError,
    alerts,
    attach_alert,
    get_incident,
    incident_for_alert,
    merge,
    timeline,
)


def test_merge_moves_alerts_closes_the_source_and_records_both_sides(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    main = open_one(db, clock, config, title="Checkout down")
    dup = open_one(db, clock, config, title="Payments 5xx")
    with db.session() as session, session.begin():
        attach_alert(session, incident_id=main.id, key="shared", source="rules", now=clock.now())
        attach_alert(session, incident_id=dup.id, key="shared", source="rules", now=clock.now())
        attach_alert(
            session, incident_id=dup.id, key="pay-5xx", source="pagerduty", now=clock.now()
        )
    clock.advance(timedelta(minutes=3))
    with db.session() as session, session.begin():
        merge(session, source_id=dup.id, into_id=main.id, by="alice", now=clock.now(), reason="dup")
    with db.session() as session:
        assert sorted(a.alert_key for a in alerts(session, incident_id=main.id)) == [
            "pay-5xx",
            "shared",
        ]
        assert alerts(session, incident_id=dup.id) == []
        source = get_incident(session, incident_id=dup.id)
        assert (source.status, source.merged_into_id, source.closed_at) == (
            "closed",
            main.id,
            clock.now(),
        )
        (into_side,) = timeline(session, incident_id=main.id, kinds={"merged"})
        (source_side,) = timeline(session, incident_id=dup.id, kinds={"merged"})
        found = incident_for_alert(session, key="pay-5xx")
    assert found is not None
    assert found.id == main.id
    assert into_side.data["source_number"] == dup.number
    assert sorted(into_side.data["alerts"]) == ["pay-5xx", "shared"]
    assert source_side.data["into_number"] == main.number
    assert source_side.actor == into_side.actor == "alice"
    # The duplicate's targets are cancelled with it; the main incident's stay.
    jobs = jobs_by_key(db)
    assert jobs[f"incident:{dup.id}:respond_within"].status == "cancelled"
    assert jobs[f"incident:{main.id}:respond_within"].status == "pending"
    clock.advance(timedelta(hours=3))
    make_runner().run_until_idle()
    assert "response_breached" not in kinds(db, dup.id)


def test_merging_into_itself_or_a_closed_incident_is_refused(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    a = open_one(db, clock, config)
    b = open_one(db, clock, config)
    with db.session() as session, session.begin():
        with pytest.raises(IncidentError, match="into itself"):
            merge(session, source_id=a.id, into_id=a.id, by="x", now=clock.now())
        merge(session, source_id=b.id, into_id=a.id, by="x", now=clock.now())
        with pytest.raises(IncidentError, match="is closed"):
            merge(session, source_id=a.id, into_id=b.id, by="x", now=clock.now())
