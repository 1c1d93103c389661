"""The incident report: MTTA, MTTR, counts, breaches and pages per person, from the record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import (
    Incident,
    IncidentError,
    acknowledge,
    merge,
    open_incident,
    record_page,
    resolve,
)
from opsbook.incidents.reports.period import parse_period
from opsbook.incidents.reports.service import incident_report, person_of

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def _incident(
    db: Database,
    clock: FakeClock,
    config: OpsbookConfig,
    *,
    at: datetime,
    severity: str,
    service: str = "shop",
    ack_after: timedelta | None = None,
    ack_by: str = "person:alice",
    resolve_after: timedelta | None = None,
) -> Incident:
    clock.set(at)
    with db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=config,
            title=f"{severity} at {at:%H:%M}",
            severity=severity,
            service=service,
            by="alerts",
            now=clock.now(),
        )
    for delay, step in ((ack_after, "ack"), (resolve_after, "resolve")):
        if delay is None:
            continue
        clock.set(at + delay)
        with db.session() as session, session.begin():
            if step == "ack":
                acknowledge(session, incident_id=incident.id, by=ack_by, now=clock.now())
            else:
                resolve(session, incident_id=incident.id, by="alerts", now=clock.now())
    return incident


def _page(
    db: Database, incident: Incident, person: str, at: datetime, channel: str = "sms"
) -> None:
    with db.session() as session, session.begin():
        record_page(
            session,
            incident_id=incident.id,
            person=person,
            channel=channel,
            level=1,
            step="primary",
            notification_key=f"page:{incident.id}:{person}:{channel}:{at.isoformat()}",
            at=at,
        )


def test_mtta_mttr_counts_and_breaches_by_severity(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    _incident(
        db,
        clock,
        config,
        at=MONDAY + timedelta(hours=9),
        severity="P1",
        ack_after=timedelta(minutes=4),
        resolve_after=timedelta(minutes=40),
    )
    _incident(
        db,
        clock,
        config,
        at=MONDAY + timedelta(hours=11),
        severity="P1",
        ack_after=timedelta(minutes=10),
        resolve_after=timedelta(hours=2),
    )
    # Never acknowledged: breaches its 30-minute target, and escalates after an hour.
    breached = _incident(db, clock, config, at=MONDAY + timedelta(hours=13), severity="P1")
    for minutes in (31, 65):
        clock.set(MONDAY + timedelta(hours=13, minutes=minutes))
        make_runner().run_until_idle()
    with db.session() as session, session.begin():
        resolve(session, incident_id=breached.id, by="alerts", now=clock.now())
    _incident(
        db,
        clock,
        config,
        at=MONDAY + timedelta(hours=15),
        severity="P3",
        service="search",
        ack_after=timedelta(hours=1),
    )
    # Outside the range: the day before, and a merged duplicate inside it.
    _incident(
        db,
        clock,
        config,
        at=MONDAY - timedelta(hours=1),
        severity="P1",
        ack_after=timedelta(hours=5),
    )
    kept = _incident(db, clock, config, at=MONDAY + timedelta(hours=16), severity="P2")
    duplicate = _incident(
        db,
        clock,
        config,
        at=MONDAY + timedelta(hours=16, minutes=1),
        severity="P2",
        ack_after=timedelta(hours=9),
    )
    with db.session() as session, session.begin():
        merge(session, source_id=duplicate.id, into_id=kept.id, by="a", now=clock.now())

    with db.session() as session:
        report = incident_report(
            session, config=config, start=MONDAY, end=MONDAY + timedelta(days=1), by="severity"
        )
    assert report.total.incidents == 5
    groups = {g.key: g for g in report.groups}
    assert list(groups) == ["P0", "P1", "P2", "P3"]
    p1 = groups["P1"]
    assert (p1.incidents, p1.acknowledged, p1.resolved, p1.breaches) == (3, 2, 3, 1)
    assert p1.mtta == timedelta(minutes=7)  # (4 + 10) / 2
    assert p1.mttr == timedelta(minutes=(40 + 120 + 65) / 3)
    assert p1.escalations == 1
    assert (groups["P0"].incidents, groups["P0"].mtta) == (0, None)
    assert (groups["P2"].incidents, groups["P3"].mtta) == (1, timedelta(hours=1))

    with db.session() as session:
        by_service = incident_report(
            session, config=config, start=MONDAY, end=MONDAY + timedelta(days=1), by="service"
        )
    assert [(g.key, g.incidents) for g in by_service.groups] == [("search", 1), ("shop", 4)]


def test_pages_per_person_are_bucketed_in_their_own_time_zone(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = _incident(db, clock, config, at=MONDAY + timedelta(hours=2), severity="P1")
    tuesday_0930 = MONDAY + timedelta(days=1, hours=9, minutes=30)
    # alice (London): 02:00 sleep, Tuesday 09:30 business, Saturday 12:00 off hours.
    _page(db, incident, "alice", MONDAY + timedelta(hours=2))
    _page(db, incident, "alice", MONDAY + timedelta(hours=2), channel="voice")  # same page
    _page(db, incident, "alice", tuesday_0930)
    _page(db, incident, "alice", MONDAY + timedelta(days=5, hours=12))
    # bob (New York): Tuesday 09:30 UTC is 04:30 there, asleep; 23:00 UTC is 18:00, evening.
    _page(db, incident, "bob", tuesday_0930)
    _page(db, incident, "bob", MONDAY + timedelta(days=1, hours=23))
    # carol has no time zone: the service's (Berlin), 10:30 on Tuesday.
    _page(db, incident, "carol", tuesday_0930)
    # After the range: not counted.
    _page(db, incident, "alice", MONDAY + timedelta(days=8))
    clock.set(MONDAY + timedelta(hours=2, minutes=3))
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="session:bob", now=clock.now())

    with db.session() as session:
        report = incident_report(
            session, config=config, start=MONDAY, end=MONDAY + timedelta(days=7)
        )
    people = {
        p.person: (
            p.timezone,
            p.pages,
            p.business_hours,
            p.off_hours,
            p.sleep_hours,
            p.acknowledgements,
        )
        for p in report.people
    }
    assert people == {
        "alice": ("Europe/London", 3, 1, 1, 1, 0),
        "bob": ("America/New_York", 2, 0, 1, 1, 1),
        "carol": ("Europe/Berlin", 1, 1, 0, 0, 0),
    }
    assert [p.person for p in report.people] == ["alice", "bob", "carol"]  # most paged first
    assert report.groups == ()


@pytest.mark.parametrize(
    ("actor", "person"),
    [
        ("person:alice", "alice"),
        ("session:bob", "bob"),
        ("token:carol", "carol"),  # a token named after a person is that person
        ("cli:alice", "alice"),
        ("alice", "alice"),
        ("token:ci", None),
        ("cli:root", None),
        ("opsbook", None),
        ("pagerduty", None),
        ("person:zoe", "zoe"),  # someone since removed from people: is still a person
    ],
)
def test_actors_are_normalised_to_person_ids(
    config: OpsbookConfig, actor: str, person: str | None
) -> None:
    assert person_of(actor, config) == person


def test_a_report_period_is_read_in_the_service_time_zone(config: OpsbookConfig) -> None:
    zone = config.service.timezone  # Europe/Berlin
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    assert parse_period("2026-03-01", "2026-03-02", now=now, zone=zone) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 2, 23, tzinfo=UTC),  # --to is the whole day
    )
    assert parse_period(None, None, now=now, zone=zone) == (now - timedelta(days=30), now)
    assert parse_period("2026-03-01T09:00+00:00", None, now=now, zone=zone)[0] == datetime(
        2026, 3, 1, 9, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="neither a date"):
        parse_period("last week", None, now=now, zone=zone)
    with pytest.raises(ValueError, match="end must be after its start"):
        parse_period("2026-03-05", "2026-03-01", now=now, zone=zone)


def test_a_page_is_recorded_in_the_shape_on_call_writes(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = _incident(db, clock, config, at=MONDAY, severity="P1")
    with db.session() as session, session.begin():
        entry = record_page(
            session,
            incident_id=incident.id,
            person="bob",
            channel="sms",
            level=2,
            step="team-lead",
            notification_key="incident:1:page:bob:sms",
            at=MONDAY + timedelta(seconds=5),
        )
    assert (entry.kind, entry.actor, entry.at) == ("paged", "oncall", MONDAY + timedelta(seconds=5))
    assert entry.data == {
        "person": "bob",
        "channel": "sms",
        "level": 2,
        "step": "team-lead",
        "notification_key": "incident:1:page:bob:sms",
    }
    with db.session() as session, pytest.raises(IncidentError, match="no incident with id 99"):
        record_page(
            session,
            incident_id=99,
            person="bob",
            channel="sms",
            level=1,
            step="s",
            notification_key="k",
            at=MONDAY,
        )
